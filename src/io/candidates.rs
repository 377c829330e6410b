//! This node's candidates: host addresses of usable interfaces, refreshed
//! when interfaces change.

use std::rc::Rc;

use super::run::Shell;

pub fn refresh(shell: &Shell) {
    let _ = shell;
}

pub async fn watch(shell: Rc<Shell>) {
    let _ = shell;
    std::future::pending::<()>().await
}
