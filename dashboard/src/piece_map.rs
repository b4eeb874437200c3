//! A torrent's verified pieces squeezed into a grid of cells: each cell stands for a
//! run of pieces and shows how many of them are verified.

/// Decodes `bitfield_hex` (first piece = high bit of the first byte). Pieces past the
/// end of a short or malformed field count as missing.
pub fn have_pieces(bitfield_hex: &str, num_pieces: u32) -> Vec<bool> {
    let bytes = bitfield_hex.as_bytes();
    (0..num_pieces as usize)
        .map(|i| {
            let byte = i / 8;
            let text = bytes
                .get(byte * 2..byte * 2 + 2)
                .and_then(|h| std::str::from_utf8(h).ok());
            match text.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => b & (0x80 >> (i % 8)) != 0,
                None => false,
            }
        })
        .collect()
}

/// One character per cell for `cells` cells: `█` all verified, `▓`/`▒`/`░` part,
/// `·` none.
pub fn cells(have: &[bool], cells: usize) -> String {
    if have.is_empty() || cells == 0 {
        return String::new();
    }
    let cells = cells.min(have.len());
    (0..cells)
        .map(|c| {
            let start = c * have.len() / cells;
            let end = ((c + 1) * have.len() / cells).max(start + 1);
            let run = &have[start..end];
            let done = run.iter().filter(|h| **h).count();
            match done {
                0 => '·',
                d if d == run.len() => '█',
                d if d * 3 >= run.len() * 2 => '▓',
                d if d * 3 >= run.len() => '▒',
                _ => '░',
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bitfield_reads_high_bit_first_and_short_fields_miss() {
        assert_eq!(have_pieces("a0", 4), vec![true, false, true, false]);
        assert_eq!(have_pieces("ff", 10)[8..], [false, false]);
        assert_eq!(have_pieces("zz", 2), vec![false, false]);
    }

    #[test]
    fn runs_of_pieces_share_a_cell() {
        let have = [true, true, true, false, false, false, false, false];
        assert_eq!(cells(&have, 4), "█▒··", "a cell half verified");
        assert_eq!(cells(&have, 100), "███·····");
        assert_eq!(cells(&[], 4), "");
    }
}
