//! The login QR code as an image for every frontend (MCP clients get PNG, web pages SVG),
//! without an image library: the `qrcode` crate gives the modules; a 1-bit grayscale PNG with
//! stored (uncompressed) deflate blocks is a few dozen lines — about 12 KB for a login URL —
//! and the SVG is one path of the dark modules.

use qrcode::{Color, QrCode};

/// Modules of white border around the code (the QR standard asks for 4).
const QUIET_ZONE: usize = 4;
/// Target width of the image in pixels (the scale is rounded down, at least 4 px a module).
const TARGET_PX: usize = 320;

/// `text` as a QR code in SVG (one path, a white quiet zone around it, scalable), or `None`
/// when it does not fit in a QR code.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules + 2 * QUIET_ZONE;
    let mut path = String::with_capacity(modules * modules * 4);
    for y in 0..modules {
        let mut x = 0;
        while x < modules {
            if colors[y * modules + x] != Color::Dark {
                x += 1;
                continue;
            }
            let start = x;
            while x < modules && colors[y * modules + x] == Color::Dark {
                x += 1;
            }
            path.push_str(&format!(
                "M{} {}h{}v1h-{}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE,
                x - start,
                x - start
            ));
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// `text` as a QR code in PNG, or `None` when it does not fit in a QR code.
pub fn png(text: &str) -> Option<Vec<u8>> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules + 2 * QUIET_ZONE;
    let scale = (TARGET_PX / side).max(4);
    let px = side * scale;
    let row_bytes = px.div_ceil(8);
    // Filter byte 0 (none) and 1 bit per pixel, 1 = white.
    let mut raw = Vec::with_capacity((row_bytes + 1) * px);
    for y in 0..px {
        raw.push(0u8);
        let my = (y / scale).checked_sub(QUIET_ZONE).filter(|&m| m < modules);
        let mut row = vec![0xFFu8; row_bytes];
        if let Some(my) = my {
            for x in 0..px {
                let mx = (x / scale).checked_sub(QUIET_ZONE).filter(|&m| m < modules);
                let dark = mx.is_some_and(|mx| colors[my * modules + mx] == Color::Dark);
                if dark {
                    row[x / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
        raw.extend_from_slice(&row);
    }
    let side_px = u32::try_from(px).ok()?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side_px.to_be_bytes());
    ihdr.extend_from_slice(&side_px.to_be_bytes());
    // Bit depth 1, colour type 0 (grayscale), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    Some(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    // Chunks here are far below 4 GiB.
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(0xFFFF).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
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

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// Standard base64 with padding (for MCP image content).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for group in data.chunks(3) {
        let n = (u32::from(group[0]) << 16)
            | (u32::from(*group.get(1).unwrap_or(&0)) << 8)
            | u32::from(*group.get(2).unwrap_or(&0));
        let chars = [18, 12, 6, 0].map(|shift| ALPHABET[((n >> shift) & 63) as usize] as char);
        out.push(chars[0]);
        out.push(chars[1]);
        out.push(if group.len() > 1 { chars[2] } else { '=' });
        out.push(if group.len() > 2 { chars[3] } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn svg_has_one_path_per_code() {
        let image = svg("https://example.com/qr?code=abc").unwrap();
        assert!(image.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(image.matches("<path").count(), 1);
        // 4 modules of quiet zone, then the finder pattern's 7 dark modules.
        assert!(image.contains("d=\"M4 4h7v1h-7z"), "{image}");
        assert!(svg("x".repeat(8000).as_str()).is_none());
    }

    #[test]
    fn png_is_well_formed() {
        let data = png("https://liteapp.weixin.qq.com/q/7GiQu1?qrcode=abc&bot_type=3").unwrap();
        assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&data[12..16], b"IHDR");
        let w = u32::from_be_bytes([data[16], data[17], data[18], data[19]]);
        let h = u32::from_be_bytes([data[20], data[21], data[22], data[23]]);
        assert_eq!(w, h);
        assert!((250..=400).contains(&w), "{w}");
        // Walk the chunks and check every CRC.
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < data.len() {
            let len = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            let end = at + 8 + len as usize;
            let crc = u32::from_be_bytes([data[end], data[end + 1], data[end + 2], data[end + 3]]);
            assert_eq!(crc32(&data[at + 4..end]), crc);
            kinds.push(String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned());
            at = end + 4;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        assert!(data.len() < 20_000, "{}", data.len());
    }

    #[test]
    fn stored_blocks_split_long_data() {
        let data = vec![7u8; 70_000];
        let z = zlib_stored(&data);
        // Two blocks: 65535 + 4465 bytes, 5 header bytes each, plus 2 + 4.
        assert_eq!(z.len(), 70_000 + 2 * 5 + 6);
        assert_eq!(z[2], 0);
        assert_eq!(z[2 + 5 + 0xFFFF], 1);
    }
}
