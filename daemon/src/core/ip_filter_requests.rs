//! The core's answers about the IP filter; the filter itself is kept by the
//! [`IpFilterService`](crate::ip_filter_loader::IpFilterService) off this thread.

use super::DaemonCore;
use crate::api_types::IpFilterCheck;
use crate::control::{ApiError, IpFilterRequest};

impl DaemonCore {
    pub(super) fn ip_filter_request(&mut self, request: IpFilterRequest) {
        match request {
            IpFilterRequest::Status(reply) => {
                let _ = reply.send(Ok(self.ip_filter.status()));
            }
            IpFilterRequest::Reload(reply) => {
                // The lists are read on the watcher's thread; the core goes on.
                let done = self.ip_filter.reload(None);
                tokio::spawn(async move {
                    let answer = match done.await {
                        Ok(status) => match &status.last_error {
                            Some(error) => Err(ApiError::conflict(format!(
                                "the IP filter reload was refused ({error}); the filter in force stays"
                            ))),
                            None => Ok(status),
                        },
                        Err(_) => Err(ApiError::new(503, "shutting_down", "the IP filter is not running")),
                    };
                    let _ = reply.send(answer);
                });
            }
            IpFilterRequest::SetLists { paths, reply } => {
                drop(self.ip_filter.reload(Some(paths)));
                let _ = reply.send(Ok(()));
            }
            IpFilterRequest::Check { address, reply } => {
                let _ = reply.send(Ok(IpFilterCheck {
                    address: address.to_string(),
                    blocked: self.ip_filter.blocks(address),
                }));
            }
        }
    }
}
