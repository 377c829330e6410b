//! Many nodes on a virtual network and clock. (being written)
