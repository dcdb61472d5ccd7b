// Shared by the boards (`include!`d under their `pool` feature): the global allocator for the pool
// pass, a linked-list heap over a fixed static array, as a hypervisor or an RTOS would give the pool.

/// Bytes of the heap: room for the pool's spans and object tables for one codec's pages, with the
/// pool's own 16 KiB structure kept in a `static` outside it.
const HEAP_BYTES: usize = 192 * 1024;

#[global_allocator]
static HEAP: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();

/// Hands the heap its memory; call once, before anything allocates.
fn init_heap() {
    use core::mem::MaybeUninit;
    static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // SAFETY: called once from `main`, the only context, before any allocation; the array is
    // `static`, so it lives for the rest of the program, and nothing else ever names it.
    unsafe { HEAP.init((&raw mut HEAP_MEMORY).cast::<u8>() as usize, HEAP_BYTES) }
}
