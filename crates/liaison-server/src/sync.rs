//! Locking a mutex that a panicking holder poisoned: every critical section here is a few
//! assignments that leave the data consistent, so the lock is taken anyway rather than spreading
//! the panic. A leaf.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
