//! The chat's history: the latest lines, bounded in number and in bytes, the oldest dropped first.
//!
//! Every action on the call screen copies the call state (Yew's reducer keeps the previous one), so the state holds
//! the history behind an `Rc`, and the history holds each line behind one too: an action that is not about chat
//! copies one pointer, and a new line copies the list of pointers (bounded), never the text.

use std::rc::Rc;

use huddle_common::{DisplayName, PeerId};

/// Who wrote a chat line.
#[derive(Clone, Debug, PartialEq)]
pub enum Author {
    /// This person.
    Me,
    /// Someone else: who (a line is tied to the person, not only to a name), and the name they had then.
    Peer {
        /// Their peer id.
        id: PeerId,
        /// Their name when they wrote it.
        name: DisplayName,
    },
}

/// One chat line.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLine {
    /// Who wrote it.
    pub author: Author,
    /// What they wrote.
    pub text: String,
}

impl ChatLine {
    /// What the line counts for against [`ChatHistory::MAX_BYTES`]: its text, its author's name and its own size.
    fn weight(&self) -> usize {
        let name = match &self.author {
            Author::Me => 0,
            Author::Peer { id, name } => id.as_str().len() + name.as_str().len(),
        };
        std::mem::size_of::<ChatLine>() + self.text.len() + name
    }
}

/// The latest chat lines, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatHistory {
    lines: Vec<Rc<ChatLine>>,
    /// The lines' weight (see [`ChatLine::weight`]).
    bytes: usize,
    /// How many lines were dropped to keep within the bounds: also the number of the first line held.
    trimmed: u64,
}

impl ChatHistory {
    /// The most lines kept: more than a busy call's chat scrolls back to, and few enough to render at once.
    pub const MAX_LINES: usize = 300;
    /// The most bytes kept: bounds the memory when lines are the longest a peer may send (then fewer are kept).
    pub const MAX_BYTES: usize = 512 * 1024;

    /// Adds a line at the end, dropping the oldest lines past the bounds.
    pub fn push(&mut self, line: ChatLine) {
        self.bytes += line.weight();
        self.lines.push(Rc::new(line));
        // The oldest lines past the bounds go at once: the others' pointers shift once.
        let mut gone = self.lines.len().saturating_sub(Self::MAX_LINES);
        self.bytes -= self.lines[..gone].iter().map(|line| line.weight()).sum::<usize>();
        while self.bytes > Self::MAX_BYTES && gone + 1 < self.lines.len() {
            self.bytes -= self.lines[gone].weight();
            gone += 1;
        }
        self.lines.drain(..gone);
        self.trimmed += gone as u64;
    }

    /// How many lines are kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No line is kept (none was written, as lines are only dropped for newer ones).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many older lines were dropped.
    pub fn trimmed(&self) -> u64 {
        self.trimmed
    }

    /// What the kept lines weigh against [`ChatHistory::MAX_BYTES`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many lines were ever added: changes with every line, even once the history is full.
    pub fn written(&self) -> u64 {
        self.trimmed + self.lines.len() as u64
    }

    /// The lines kept, oldest first, each with its number in the whole chat (stable as lines come and go: a key).
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = (u64, &Rc<ChatLine>)> + ExactSizeIterator {
        let first = self.trimmed;
        self.lines.iter().enumerate().map(move |(i, line)| (first + i as u64, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> ChatLine {
        ChatLine { author: Author::Me, text: text.into() }
    }

    #[test]
    fn the_oldest_lines_go_past_the_line_bound_and_numbers_stay_with_their_lines() {
        let mut history = ChatHistory::default();
        for i in 0..ChatHistory::MAX_LINES + 5 {
            history.push(line(&i.to_string()));
        }
        assert_eq!(history.len(), ChatHistory::MAX_LINES);
        assert_eq!(history.trimmed(), 5);
        assert_eq!(history.written(), ChatHistory::MAX_LINES as u64 + 5);
        let (number, first) = history.lines().next().unwrap();
        assert_eq!((number, first.text.as_str()), (5, "5"));
        let (number, last) = history.lines().next_back().unwrap();
        assert_eq!(last.text, (ChatHistory::MAX_LINES + 4).to_string());
        assert_eq!(number, ChatHistory::MAX_LINES as u64 + 4);
    }

    #[test]
    fn the_oldest_lines_go_past_the_byte_bound() {
        let mut history = ChatHistory::default();
        // The longest lines a peer can send, in four-byte characters.
        let long = "😀".repeat(huddle_common::PeerMessage::MAX_CHAT_CHARS);
        for _ in 0..200 {
            history.push(line(&long));
        }
        assert!(history.bytes() <= ChatHistory::MAX_BYTES);
        let held: usize = history.lines().map(|(_, line)| line.weight()).sum();
        assert_eq!(history.bytes(), held);
        assert_eq!(history.len(), ChatHistory::MAX_BYTES / line(&long).weight());
        assert_eq!(history.trimmed(), 200 - history.len() as u64);
        // Short lines fill the room again.
        for _ in 0..ChatHistory::MAX_LINES {
            history.push(line("ok"));
        }
        assert_eq!(history.len(), ChatHistory::MAX_LINES);
        assert!(history.lines().all(|(_, line)| line.text == "ok"));
    }

    #[test]
    fn copying_the_history_copies_no_line() {
        let mut history = ChatHistory::default();
        history.push(line("shared"));
        let mut copy = history.clone();
        copy.push(line("only in the copy"));
        let (_, original) = history.lines().next().unwrap();
        let (_, copied) = copy.lines().next().unwrap();
        assert!(Rc::ptr_eq(original, copied));
        assert_eq!((history.len(), copy.len()), (1, 2));
    }
}
