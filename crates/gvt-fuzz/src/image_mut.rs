//! Image seeds and structure-aware mutation: PNG chunks (IHDR fields, CRCs), JPEG
//! segments (SOF sizes and sampling factors), GIF screen and frame descriptors, WebP (VP8L)
//! sizes, plus byte-level mutation and truncation.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, Rgba};

use crate::rng::{Rng, mutate_bytes};

/// Small images in every supported format.
pub fn seeds() -> Vec<Vec<u8>> {
    let rgb = DynamicImage::ImageRgb8(ImageBuffer::from_fn(8, 6, |x, y| {
        Rgb([(x * 30) as u8, (y * 40) as u8, 128])
    }));
    let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_fn(5, 3, |x, y| {
        Rgba([x as u8 * 50, 0, y as u8 * 80, 200])
    }));
    let gray16 = DynamicImage::ImageLuma16(ImageBuffer::from_fn(4, 4, |x, y| {
        Luma([(x * 9000 + y) as u16])
    }));
    let gray = DynamicImage::ImageLuma8(ImageBuffer::from_fn(16, 16, |x, y| Luma([(x * y) as u8])));
    let mut out = Vec::new();
    let mut enc = |img: &DynamicImage, fmt: ImageFormat| {
        let mut bytes = Vec::new();
        if img.write_to(&mut Cursor::new(&mut bytes), fmt).is_ok() {
            out.push(bytes);
        }
    };
    enc(&rgb, ImageFormat::Png);
    enc(&rgba, ImageFormat::Png);
    enc(&gray16, ImageFormat::Png);
    enc(&rgb, ImageFormat::Jpeg);
    enc(&gray, ImageFormat::Jpeg);
    enc(&rgba, ImageFormat::Gif);
    enc(&rgb, ImageFormat::WebP);
    enc(&rgba, ImageFormat::WebP);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// PNG chunks as (type, data); `None` when the bytes are not a chunk stream.
fn png_chunks(bytes: &[u8]) -> Option<Vec<([u8; 4], Vec<u8>)>> {
    let mut pos = PNG_SIG.len();
    let mut chunks = Vec::new();
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as usize;
        let ty: [u8; 4] = bytes[pos + 4..pos + 8].try_into().ok()?;
        let data = bytes.get(pos + 8..pos + 8 + len)?.to_vec();
        chunks.push((ty, data));
        pos += 12 + len;
    }
    Some(chunks)
}

fn png_write(chunks: &[([u8; 4], Vec<u8>)], rng: &mut Rng) -> Vec<u8> {
    let mut out = PNG_SIG.to_vec();
    for (ty, data) in chunks {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(ty);
        out.extend_from_slice(data);
        let mut crc = crc32(&out[start..]);
        if rng.one_in(16) {
            crc ^= 1;
        }
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

const SIDES: &[u32] = &[
    0,
    1,
    2,
    7,
    8,
    255,
    4096,
    16384,
    16385,
    65535,
    65536,
    (1 << 31) - 1,
    u32::MAX,
];

fn mutate_png(rng: &mut Rng, bytes: &mut Vec<u8>) -> bool {
    let Some(mut chunks) = png_chunks(bytes) else {
        return false;
    };
    if chunks.is_empty() {
        return false;
    }
    match rng.below(6) {
        0 | 1 => {
            if let Some((_, ihdr)) = chunks.iter_mut().find(|(t, _)| t == b"IHDR")
                && ihdr.len() >= 13
            {
                match rng.below(4) {
                    0 => ihdr[0..4].copy_from_slice(&rng.pick(SIDES).to_be_bytes()),
                    1 => ihdr[4..8].copy_from_slice(&rng.pick(SIDES).to_be_bytes()),
                    2 => ihdr[8] = *rng.pick(&[0u8, 1, 2, 4, 8, 16, 3, 255]),
                    _ => ihdr[9 + rng.below(4)] = *rng.pick(&[0u8, 1, 2, 3, 4, 6, 7, 255]),
                }
            }
        }
        2 => {
            let i = rng.below(chunks.len());
            chunks.remove(i);
        }
        3 => {
            let i = rng.below(chunks.len());
            let c = chunks[i].clone();
            chunks.insert(rng.below(chunks.len() + 1), c);
        }
        4 => {
            // Cut into a chunk's data (IDAT most of the time).
            let i = chunks
                .iter()
                .position(|(t, _)| t == b"IDAT" && rng.one_in(2))
                .unwrap_or_else(|| rng.below(chunks.len()));
            let n = chunks[i].1.len();
            chunks[i].1.truncate(rng.below(n + 1));
        }
        _ => {
            let ty = *rng.pick(&[*b"PLTE", *b"tRNS", *b"IDAT", *b"acTL", *b"iCCP", *b"zzZz"]);
            let n = rng.small(64);
            let data = (0..n).map(|_| rng.next_u64() as u8).collect();
            chunks.insert(1 + rng.below(chunks.len()), (ty, data));
        }
    }
    *bytes = png_write(&chunks, rng);
    true
}

/// Offsets of JPEG marker segments (the 0xFF byte) before the scan data.
fn jpeg_segments(bytes: &[u8]) -> Vec<usize> {
    let mut pos = 2;
    let mut out = Vec::new();
    while pos + 4 <= bytes.len() && bytes[pos] == 0xFF {
        out.push(pos);
        if bytes[pos + 1] == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        pos += 2 + len;
    }
    out
}

fn mutate_jpeg(rng: &mut Rng, bytes: &mut Vec<u8>) -> bool {
    let segs = jpeg_segments(bytes);
    if segs.is_empty() {
        return false;
    }
    let sof = segs
        .iter()
        .copied()
        .find(|&p| matches!(bytes[p + 1], 0xC0..=0xC3));
    match (sof, rng.below(4)) {
        (Some(p), 0 | 1) if p + 10 <= bytes.len() => {
            let v = *rng.pick(&[0u16, 1, 8, 16383, 16384, 16385, 65535]);
            match rng.below(5) {
                0 => bytes[p + 5..p + 7].copy_from_slice(&v.to_be_bytes()),
                1 => bytes[p + 7..p + 9].copy_from_slice(&v.to_be_bytes()),
                2 => bytes[p + 9] = *rng.pick(&[0u8, 1, 2, 3, 4, 255]),
                3 => bytes[p + 4] = *rng.pick(&[8u8, 12, 16, 0, 255]),
                _ if p + 12 <= bytes.len() => {
                    bytes[p + 11] = *rng.pick(&[0x11u8, 0x22, 0x44, 0x00, 0xFF, 0x41])
                }
                _ => {}
            }
        }
        (_, 2) => {
            // Drop a segment.
            let i = rng.below(segs.len());
            let start = segs[i];
            let end = segs.get(i + 1).copied().unwrap_or(bytes.len());
            bytes.drain(start..end);
        }
        _ => {
            // Corrupt a segment's length.
            let p = segs[rng.below(segs.len())];
            let v = *rng.pick(&[0u16, 1, 2, 3, 0xFFFF]);
            bytes[p + 2..p + 4].copy_from_slice(&v.to_be_bytes());
        }
    }
    true
}

fn mutate_gif(rng: &mut Rng, bytes: &mut [u8]) -> bool {
    if bytes.len() < 13 {
        return false;
    }
    let v = *rng.pick(&[0u16, 1, 8, 16384, 16385, 65535]);
    let desc = bytes
        .iter()
        .skip(13)
        .position(|&b| b == 0x2C)
        .map(|p| p + 13);
    match (desc, rng.below(3)) {
        (Some(d), 0) if d + 10 <= bytes.len() => {
            let field = 1 + 2 * rng.below(4);
            bytes[d + field..d + field + 2].copy_from_slice(&v.to_le_bytes());
        }
        (Some(d), 1) if d + 11 <= bytes.len() => bytes[d + 10] = rng.next_u64() as u8,
        _ => {
            let field = 6 + 2 * rng.below(2);
            bytes[field..field + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
    true
}

fn mutate_webp(rng: &mut Rng, bytes: &mut [u8]) -> bool {
    if bytes.len() < 30 {
        return false;
    }
    match rng.below(3) {
        0 => {
            let v = *rng.pick(&[0u32, 4, 12, 0xFFFF_FFFF, bytes.len() as u32 * 2]);
            bytes[4..8].copy_from_slice(&v.to_le_bytes());
        }
        1 => {
            let v = *rng.pick(&[0u32, 1, 5, 0xFFFF_FFFF]);
            bytes[16..20].copy_from_slice(&v.to_le_bytes());
        }
        _ => {
            // VP8L: 14-bit width-1 and height-1 after the 0x2f signature; VP8: sizes at 26.
            let v = rng.next_u64() as u32 | 0x3FFF;
            let i = 21 + rng.below(4);
            bytes[i] = (v >> (8 * rng.below(4))) as u8;
        }
    }
    true
}

/// One to three mutations, structural when the format is recognised.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.small(2) {
        let structural = rng.below(10) < 6
            && if bytes.starts_with(PNG_SIG) {
                mutate_png(rng, bytes)
            } else if bytes.starts_with(&[0xFF, 0xD8]) {
                mutate_jpeg(rng, bytes)
            } else if bytes.starts_with(b"GIF8") {
                mutate_gif(rng, bytes)
            } else if bytes.starts_with(b"RIFF") {
                mutate_webp(rng, bytes)
            } else {
                false
            };
        if !structural {
            mutate_bytes(rng, bytes, 0, 1 << 20);
        }
    }
}
