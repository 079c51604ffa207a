//! The allocator hands freed memory back to the kernel at once once configured
//! (`calamari::allocator::configure`): a large buffer freed leaves the RSS without any later call.
//! Its own process, so that no other test's memory moves the figures.

fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    kb / 1024
}

#[test]
#[cfg(target_os = "linux")]
fn freed_memory_leaves_the_rss_at_once() {
    calamari::allocator::configure();
    let start = rss_mb();
    let buffer = vec![1u8; 256 << 20];
    let full = rss_mb();
    assert!(full >= start + 240, "the buffer is resident: {start} MB -> {full} MB");
    assert_eq!(buffer.iter().step_by(4096).map(|b| *b as u64).sum::<u64>(), (256 << 20) / 4096);
    drop(buffer);
    let after = rss_mb();
    assert!(after < start + 64, "freed at once: {start} MB, {full} MB with the buffer, {after} MB after it was freed");
}
