//! Token usage of model calls, and what a completion call returns.
//!
//! Servers report usage in their own fields (OpenAI's `usage`, Ollama's
//! `prompt_eval_count`/`eval_count`); some report nothing. [`Usage::estimate`] gives a
//! rough figure for those, marked `estimated` so it is never mistaken for a bill.

use crate::bindings::types::Message;
use std::ops::{Add, AddAssign};

/// Tokens one call (or a sum of calls) consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the input (prompt, or the texts embedded).
    pub prompt_tokens: u64,
    /// Tokens generated; zero for embeddings.
    pub completion_tokens: u64,
    /// True when at least part of the figure was guessed rather than reported.
    pub estimated: bool,
}

impl Usage {
    /// Usage as reported by a server.
    pub fn reported(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            estimated: false,
        }
    }

    /// A rough guess (about four characters per token) for a server that reported
    /// nothing.
    pub fn estimate(messages: &[Message], completion: &str) -> Usage {
        let prompt: usize = messages.iter().map(|m| m.content.chars().count()).sum();
        Usage {
            prompt_tokens: tokens_from_chars(prompt),
            completion_tokens: tokens_from_chars(completion.chars().count()),
            estimated: true,
        }
    }

    /// A rough guess for an embedding batch that reported nothing.
    pub fn estimate_embedding(texts: &[String]) -> Usage {
        let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
        Usage {
            prompt_tokens: tokens_from_chars(chars),
            completion_tokens: 0,
            estimated: true,
        }
    }

    /// Prompt and completion tokens together.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

fn tokens_from_chars(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

impl Add for Usage {
    type Output = Usage;
    fn add(self, other: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            estimated: self.estimated || other.estimated,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        *self = *self + other;
    }
}

/// The result of one chat completion.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// The whole answer text (also when it was streamed piece by piece).
    pub text: String,
    /// Usage from the server's own fields, when it sent them.
    pub usage: Option<Usage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_marked_and_sums_keep_the_mark() {
        let messages = vec![Message {
            role: "user".into(),
            content: "12345678".into(),
        }];
        let guess = Usage::estimate(&messages, "abcde");
        assert_eq!(guess.prompt_tokens, 2);
        assert_eq!(guess.completion_tokens, 2);
        assert!(guess.estimated);
        let sum = Usage::reported(10, 5) + guess;
        assert_eq!(sum.total(), 19);
        assert!(sum.estimated);
        let mut reported = Usage::reported(1, 1);
        reported += Usage::reported(2, 0);
        assert_eq!(reported, Usage::reported(3, 1));
        assert_eq!(
            Usage::estimate_embedding(&["abcd".into(), "e".into()]).prompt_tokens,
            2
        );
    }
}
