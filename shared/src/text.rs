//! Text for services with a length limit.

/// `text` cut to at most `max` characters on a character boundary, ending in `marker` when cut (the
/// marker counts towards `max`).
pub fn clip(text: &str, max: usize, marker: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text
        .chars()
        .take(max.saturating_sub(marker.chars().count()))
        .collect();
    format!("{kept}{marker}")
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn cuts_on_characters_and_counts_the_marker() {
        assert_eq!(clip("short", 5, "..."), "short");
        assert_eq!(clip("ünïcödé text", 8, "..."), "ünïcö...");
        assert_eq!(clip("ünïcödé text", 8, "…").chars().count(), 8);
    }
}
