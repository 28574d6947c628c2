//! What operators see of the running supervisor: the sd_notify conversation
//! with systemd, the status socket, the Prometheus metrics, and the row
//! rates they show. Reads the jobs' counters; never changes a job.

pub mod metrics;
pub mod notify;
pub mod rate;
pub mod status_socket;
