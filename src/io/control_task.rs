//! Serves `ipop status` on the control socket from the event loop.

use std::rc::Rc;

use super::run::Shell;

pub async fn serve(shell: Rc<Shell>) {
    let _ = shell;
    std::future::pending::<()>().await
}
