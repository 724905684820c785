//! Bounded memory: parsed metadata takes about as much memory as the file holds, whatever
//! the file claims. The hostile files here are all zeros after the array header, so they
//! are cheap to build: a zero u8, an empty string (its u64 length) and an empty u8 array
//! (element type and length) are all zero bytes.

use super::*;

/// A file with no tensors and one key `big` holding `count` elements of GGUF type
/// `elem_type`, each `elem_bytes` zero bytes.
fn zero_array_file(elem_type: u32, count: usize, elem_bytes: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + count * elem_bytes);
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // tensors
    b.extend_from_slice(&1u64.to_le_bytes()); // metadata entries
    b.extend_from_slice(&3u64.to_le_bytes());
    b.extend_from_slice(b"big");
    b.extend_from_slice(&9u32.to_le_bytes()); // array
    b.extend_from_slice(&elem_type.to_le_bytes());
    b.extend_from_slice(&(count as u64).to_le_bytes());
    b.resize(b.len() + count * elem_bytes, 0);
    b
}

/// Parses `bytes`; returns the parsed array's length and the metadata's heap bytes as a
/// multiple of the file size.
fn parse_footprint(bytes: Vec<u8>) -> (usize, f64) {
    let size = bytes.len();
    let file = GgufFile::from_bytes(bytes).unwrap();
    let len = file.metadata.get("big").unwrap().as_array().unwrap().len();
    (len, file.metadata.heap_bytes() as f64 / size as f64)
}

#[test]
fn large_u8_array_takes_its_size() {
    // 64 Mi elements: the shape of the 71 MB file that took 2.1 GB as `Vec<Value>`.
    let n = 64 << 20;
    let (len, ratio) = parse_footprint(zero_array_file(0, n, 1));
    assert_eq!(len, n);
    assert!(ratio < 1.1, "heap is {ratio:.2}x the file size");
}

#[test]
fn many_empty_strings_take_less_than_their_size() {
    // 8 Mi empty strings (64 MiB of lengths): 4 bytes each in memory.
    let n = 8 << 20;
    let (len, ratio) = parse_footprint(zero_array_file(8, n, 8));
    assert_eq!(len, n);
    assert!(ratio < 0.6, "heap is {ratio:.2}x the file size");
}

#[test]
fn many_empty_nested_arrays_stay_bounded() {
    // An empty array takes 12 bytes in the file and one `Array` (32 bytes on 64-bit
    // targets) in memory: the one case that grows, by a bounded factor.
    assert!(size_of::<Array>() <= size_of::<Vec<u8>>() + size_of::<usize>());
    let n = 1 << 20;
    let (len, ratio) = parse_footprint(zero_array_file(9, n, 12));
    assert_eq!(len, n);
    assert!(ratio < 3.0, "heap is {ratio:.2}x the file size");
}

#[test]
fn heap_bytes_counts_strings_and_nesting() {
    let strings: StringArray = ["ab", "", "cde"].into_iter().collect();
    let text_and_ends = strings.heap_bytes();
    assert!(text_and_ends >= 5 + 3 * 4, "{text_and_ends}");
    let nested = Array::Array(vec![Array::String(strings), Array::U16(vec![1; 10])]);
    assert!(nested.heap_bytes() >= text_and_ends + 20 + 2 * size_of::<Array>());
    assert_eq!(Value::U64(7).heap_bytes(), 0);
}
