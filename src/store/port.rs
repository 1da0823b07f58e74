//! Ports for tasks (`agents.portRange`): reserved under the store lock in the task's
//! record, so two processes never hand out the same one.

use anyhow::Result;
use std::time::Duration;

use super::Store;
use crate::error::Error;

impl Store {
    /// Reserve a port for a task that is starting: one no live running task holds and
    /// that binds on 127.0.0.1 right now; written into the task's record under the lock,
    /// so two processes never hand out the same one.
    pub fn reserve_port(&self, id: &str, range: (u16, u16)) -> Result<PortClaim> {
        let _lock = self.lock()?;
        let held: std::collections::HashSet<u16> = self
            .all()?
            .iter()
            .filter(|r| r.id != id && r.owner_alive())
            .filter_map(|r| r.port)
            .filter(|p| (range.0..=range.1).contains(p))
            .collect();
        let size = u32::from(range.1 - range.0) + 1;
        // Start from a spot derived from the id so tasks tend to keep their port.
        let start = id.bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        }) % size;
        for i in 0..size {
            let port = range.0 + ((start + i) % size) as u16;
            if held.contains(&port) || std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            if let Some(mut rec) = self.load(id)? {
                rec.port = Some(port);
                self.save(&rec)?;
            }
            return Ok(PortClaim::Got(port));
        }
        Ok(if held.is_empty() {
            PortClaim::Unavailable
        } else {
            PortClaim::Busy
        })
    }

    /// Reserve a port, waiting while every free one is held by other running tasks
    /// (they give theirs back when they end). Fails with the reason when no task holds
    /// one and none binds (other programs use them all), or when `give_up` says so
    /// (Ctrl-C, a deadline): an agent never starts without its port.
    pub fn wait_for_port(
        &self,
        id: &str,
        range: (u16, u16),
        mut waiting: impl FnMut(),
        give_up: impl Fn() -> Option<String>,
    ) -> Result<u16> {
        let shown = if range.0 == range.1 {
            range.0.to_string()
        } else {
            format!("{}-{}", range.0, range.1)
        };
        let mut told = false;
        loop {
            match self.reserve_port(id, range)? {
                PortClaim::Got(p) => return Ok(p),
                PortClaim::Unavailable => {
                    return Err(Error::refused(format!(
                        "no free port for task {id}: every port of agents.portRange {shown} is in use by other programs"
                    ))
                    .with_hint("free one, or widen the range: git config agents.portRange 20000-29999")
                    .into());
                }
                PortClaim::Busy => {}
            }
            if let Some(why) = give_up() {
                return Err(Error::refused(format!(
                    "no free port for task {id} in agents.portRange {shown}: {why}"
                ))
                .into());
            }
            if !told {
                waiting();
                told = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What [`Store::reserve_port`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortClaim {
    Got(u16),
    /// Every free port is held by another live task: one comes free when it ends.
    Busy,
    /// No task holds a port of the range and none binds: waiting would not help.
    Unavailable,
}
