//! Per-call resource limiter: caps linear memory growth and remembers whether
//! the cap was hit, so that a trap caused by a refused growth is reported as
//! the memory limit rather than as an opaque crash.

/// Limits the linear memories of one store to `memory_limit` bytes *together*
/// (a component may define several), so the limit is what the call can use
/// and what the memory budget reserves for it.
#[derive(Debug)]
pub struct CallLimiter {
    memory_limit: usize,
    table_elements_limit: usize,
    /// The sum of every linear memory's size (memories never shrink).
    total_memory: usize,
    peak_memory: usize,
    refused_growth: Option<usize>,
}

impl CallLimiter {
    /// A limiter for one call.
    pub fn new(memory_limit: u64) -> Self {
        Self {
            memory_limit: usize::try_from(memory_limit).unwrap_or(usize::MAX),
            table_elements_limit: 1_000_000,
            total_memory: 0,
            peak_memory: 0,
            refused_growth: None,
        }
    }

    /// The largest size the linear memories reached together, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.peak_memory
    }

    /// The total a refused `memory.grow` (or a new memory) asked for, if one
    /// was refused.
    pub fn refused_growth(&self) -> Option<usize> {
        self.refused_growth
    }
}

impl wasmtime::ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // wasmtime also calls this with `current == 0` for each new memory.
        let total = self
            .total_memory
            .saturating_add(desired.saturating_sub(current));
        if total > self.memory_limit || maximum.is_some_and(|max| desired > max) {
            // Refuse like a real allocator would: `memory.grow` returns -1 and
            // the guest may recover. If it traps instead, the caller reports
            // the memory limit.
            self.refused_growth = Some(total);
            return Ok(false);
        }
        self.total_memory = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements_limit && maximum.is_none_or(|max| desired <= max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn refuses_growth_past_the_limit_and_remembers_it() {
        let mut limiter = CallLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 16, None).unwrap());
        assert!(!limiter.memory_growing(1 << 16, 2 << 20, None).unwrap());
        assert_eq!(limiter.refused_growth(), Some(2 << 20));
        assert_eq!(limiter.peak_memory(), 1 << 16);
    }

    #[test]
    fn the_limit_covers_all_memories_together() {
        let mut limiter = CallLimiter::new(1 << 20);
        // Two memories created at 512 KiB each fill the limit...
        assert!(limiter.memory_growing(0, 512 << 10, None).unwrap());
        assert!(limiter.memory_growing(0, 512 << 10, None).unwrap());
        // ...so neither a third memory nor growing one of them fits.
        assert!(!limiter.memory_growing(0, 64 << 10, None).unwrap());
        assert!(!limiter.memory_growing(512 << 10, 576 << 10, None).unwrap());
        assert_eq!(limiter.peak_memory(), 1 << 20);
        assert_eq!(limiter.refused_growth(), Some((1 << 20) + (64 << 10)));
    }
}
