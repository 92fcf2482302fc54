//! TODO(owner: back-end helper): reads a spec folder from disk.
