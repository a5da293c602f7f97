//! slotd: supervisor for a Redis Cluster on one machine (being built).
