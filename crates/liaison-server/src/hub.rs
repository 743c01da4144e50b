//! The signal that case events committed, from this server's own commits and from other servers'
//! (PostgreSQL `NOTIFY`): what wakes this server's watch streams. A leaf: it knows only sequence
//! numbers.

/// Tells this server's watchers that events committed.
pub struct EventHub {
    newest: tokio::sync::watch::Sender<i64>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub {
            newest: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl EventHub {
    /// Events up to the audit sequence number `seq` have committed.
    pub fn published(&self, seq: i64) {
        self.newest.send_if_modified(|newest| {
            let moved = seq > *newest;
            *newest = (*newest).max(seq);
            moved
        });
    }

    /// Events may have committed unannounced (a lost notification): every watcher looks.
    pub fn nudge(&self) {
        self.newest.send_modify(|_| {});
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.newest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_only_moves_forward_but_can_be_nudged() {
        let hub = EventHub::default();
        let mut rx = hub.subscribe();
        hub.published(5);
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(*rx.borrow_and_update(), 5);
        hub.published(3);
        assert!(!rx.has_changed().unwrap_or(true));
        hub.nudge();
        assert!(rx.has_changed().unwrap_or(false));
        assert_eq!(*rx.borrow_and_update(), 5);
    }
}
