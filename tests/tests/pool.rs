//! The page pool with real compressed pages, seen through `trueno-zram` alone: every page comes back
//! byte for byte after filling, after a churn and after compaction, and the buffer helpers round-trip
//! real data.

use trueno_zram::{
    Algorithm, CompressorBuilder, Encoding, Handle, OwnedCompressedPage, PAGE_SIZE, Page,
    PageCompressor, PagePool, compress_buffer, decompress_buffer,
};

fn pages() -> Vec<Page> {
    // Every fourth page of the memory dump spans all four processes; local files when it is absent.
    let mut pages: Vec<Page> =
        trueno_zram_tests::corpus_pages("corpus/memdump.bin", "pool round trip")
            .into_iter()
            .step_by(4)
            .take(1024)
            .collect();
    pages.extend(trueno_zram_tests::local_pages(256));
    pages
}

fn check(pool: &PagePool, handles: &[Handle], pages: &[Page], which: &[usize]) {
    let mut c = CompressorBuilder::new().build().unwrap();
    let mut out = [0u8; PAGE_SIZE];
    for (&h, &i) in handles.iter().zip(which) {
        pool.decompress_into(h, &mut c, &mut out).unwrap();
        assert_eq!(out, pages[i], "page {i}");
    }
}

#[test]
fn real_pages_survive_fill_churn_and_compaction() {
    let pages = pages();
    assert!(!pages.is_empty());
    let mut c = CompressorBuilder::new()
        .algorithm(Algorithm::Lz4)
        .build()
        .unwrap();
    let packed: Vec<OwnedCompressedPage> = pages
        .iter()
        .map(|p| OwnedCompressedPage::from_page(&c.compress(p).unwrap()).unwrap())
        .collect();
    let pool = Box::new(PagePool::new());
    let insert = |i: usize| {
        pool.insert_encoded(packed[i].encoding(), packed[i].payload())
            .unwrap()
    };
    let mut which: Vec<usize> = (0..pages.len()).collect();
    let mut handles: Vec<Handle> = which.iter().map(|&i| insert(i)).collect();
    check(&pool, &handles, &pages, &which);

    let stats = pool.stats();
    let same = packed
        .iter()
        .filter(|p| p.encoding() == Encoding::SameFill)
        .count();
    assert_eq!(stats.orig_data_size, (pages.len() * PAGE_SIZE) as u64);
    assert_eq!(stats.same_pages, same as u64);
    assert_eq!(
        stats.compr_data_size,
        packed
            .iter()
            .filter(|p| p.encoding() != Encoding::SameFill)
            .map(|p| p.payload().len() as u64)
            .sum::<u64>()
    );
    assert_eq!(stats.mem_used_total as usize, pool.audit_heap_bytes());

    // Replace every other object with the page twenty places on, then compact.
    for k in (0..handles.len()).step_by(2) {
        pool.remove(handles[k]).unwrap();
        which[k] = (which[k] + 20) % pages.len();
        handles[k] = insert(which[k]);
    }
    check(&pool, &handles, &pages, &which);
    let before = pool.stats();
    pool.compact();
    let after = pool.stats();
    assert!(after.mem_used_total <= before.mem_used_total);
    assert_eq!(after.compr_data_size, before.compr_data_size);
    check(&pool, &handles, &pages, &which);
    assert_eq!(after.mem_used_total as usize, pool.audit_heap_bytes());
}

#[test]
fn buffers_of_real_pages_round_trip() {
    let pages = pages();
    let buffer: Vec<u8> = pages.iter().take(300).flatten().copied().collect();
    let mut c = CompressorBuilder::new()
        .algorithm(Algorithm::Lz4)
        .build()
        .unwrap();
    let packed = compress_buffer(&mut c, &buffer).unwrap();
    assert_eq!(packed.len(), buffer.len() / PAGE_SIZE);
    let wire: usize = packed.iter().map(OwnedCompressedPage::heap_len).sum();
    assert!(wire < buffer.len() + packed.len());
    assert_eq!(decompress_buffer(&mut c, &packed).unwrap(), buffer);
}
