//! Board profiles: RAM budget -> buffer pool and peer caps. (being written)
