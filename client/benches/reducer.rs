//! The call screen's reducer under a chat flood: a peer sends chat lines as fast as it can, each line the longest a
//! receiver takes, and every line goes through the reducer Yew runs (`Reducible::reduce`, as `use_reducer` calls it).
//! It prints how long the flood took the reducer, how long one unrelated action (opening the settings) takes after
//! it, and how much memory the call state holds for it. It measures, it asserts nothing: `cargo bench -p
//! huddle-client --bench reducer` (`-- LINES` for another number of lines). Figures: bench/reducer.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use huddle_client::call::state::{Action, CallState};
use huddle_common::{DisplayName, PeerInfo, PeerMessage};
use yew::Reducible;

/// The system allocator, counting the bytes in use: what the call state holds is the difference.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

#[expect(unsafe_code, reason = "a global allocator is an unsafe trait; this one only forwards to System and counts")]
// SAFETY: every call forwards to `System` with the caller's own arguments, so System's guarantees hold; the counter
// has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc` is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        IN_USE.fetch_add(new_size, Ordering::Relaxed);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One action through the reducer, with the previous state still held while it runs, as Yew holds it.
fn reduce(state: &Rc<CallState>, action: Action) -> Rc<CallState> {
    Rc::clone(state).reduce(action)
}

fn time(took: Duration) -> String {
    let secs = took.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.1} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.2} µs", secs * 1e6)
    }
}

fn main() {
    let lines: usize = std::env::args().skip(1).find_map(|arg| arg.parse().ok()).unwrap_or(20_000);
    let ada = PeerInfo { id: "ada".into(), name: DisplayName::parse("Ada").expect("a valid name") };
    let before = IN_USE.load(Ordering::Relaxed);
    let mut state = Rc::new(CallState::new(true, true));
    state = reduce(&state, Action::Joined { me: "me".into(), peers: vec![ada.clone()] });
    let empty = IN_USE.load(Ordering::Relaxed) - before;

    // The longest line a receiver takes, all ASCII: as many bytes as characters.
    let text = "x".repeat(PeerMessage::MAX_CHAT_CHARS);
    let chunk = (lines / 10).max(1);
    let mut flood = Duration::ZERO;
    let mut last_chunk = Duration::ZERO;
    for i in 0..lines {
        let action = Action::FromPeer(ada.id.clone(), PeerMessage::Chat { text: text.clone() });
        let started = Instant::now();
        state = reduce(&state, action);
        let took = started.elapsed();
        flood += took;
        if i >= lines - chunk.min(lines) {
            last_chunk += took;
        }
    }
    let held = IN_USE.load(Ordering::Relaxed) - before;

    // One unrelated action at a time, as a click makes it: the median of many.
    let mut unrelated: Vec<Duration> = (0..101)
        .map(|_| {
            let started = Instant::now();
            state = reduce(&state, Action::ToggleSettings);
            started.elapsed()
        })
        .collect();
    unrelated.sort();

    println!("chat flood through the call reducer: {lines} lines of {} bytes from one peer", text.len());
    println!("  reducer time, all lines:          {}", time(flood));
    println!("  reducer time, the last {chunk} lines: {}", time(last_chunk));
    println!(
        "  one unrelated action after them:  {} (median of 101; max {})",
        time(unrelated[50]),
        time(unrelated[100])
    );
    println!("  memory held by the call state:    {:.1} MB ({} bytes before any chat)", held as f64 / 1e6, empty);
}
