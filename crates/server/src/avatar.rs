//! Avatar processing: an uploaded PNG, JPEG or WebP becomes a 256x256 PNG.
//!
//! Why so careful: a 131-byte PNG can declare 4096x1 pixels of 16-bit RGBA,
//! and scaling it to *fill* 256x256 before cropping asked for a picture of a
//! million by 256 pixels (8 GiB for four uploads at once). So, in order:
//! 1. the header alone is read, and dimensions and aspect ratio are checked
//!    before anything is decoded;
//! 2. decoding runs under `image::Limits` (pixels and bytes allocated);
//! 3. the centred square is cut out *first*, then scaled to 256x256, so
//!    every buffer after decoding is at most the input square or the output.
//!
//! This is a pure function of the bytes (the fuzz target calls it as is).

// Uploaded bytes are decoded here: no unwrap, no unchecked index and no
// overflowing arithmetic (tests excepted).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Avatars are re-encoded to this square PNG.
pub const AVATAR_SIZE: u32 = 256;
/// Largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// Longest side over shortest side: beyond this a centred square would
/// throw most of the picture away, and a bomb is usually a thin strip.
pub const MAX_ASPECT: u32 = 4;
/// Bytes the decoder may allocate.
pub const MAX_DECODE_BYTES: u64 = 64 * 1024 * 1024;

/// Why an upload was refused (shown to the person as is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvatarError {
    #[error("an avatar must be a PNG, JPEG or WebP image")]
    Format,
    #[error("this image cannot be read: {0}")]
    Unreadable(String),
    #[error("an avatar is at most {MAX_SIDE}x{MAX_SIDE} pixels (this one is {0}x{1})")]
    TooLarge(u32, u32),
    #[error("an avatar is at most {MAX_ASPECT} times wider than high, or higher than wide (this one is {0}x{1})")]
    Aspect(u32, u32),
}

fn reader(bytes: &[u8]) -> Result<ImageReader<std::io::Cursor<&[u8]>>, AvatarError> {
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| AvatarError::Unreadable(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => Ok(reader),
        _ => Err(AvatarError::Format),
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// Checks the declared dimensions, from the header only.
pub fn check_dimensions(bytes: &[u8]) -> Result<(u32, u32), AvatarError> {
    let mut r = reader(bytes)?;
    r.limits(limits());
    let (w, h) = r
        .into_dimensions()
        .map_err(|e| AvatarError::Unreadable(e.to_string()))?;
    if w == 0 || h == 0 {
        return Err(AvatarError::Unreadable("the image has no pixels".into()));
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(AvatarError::TooLarge(w, h));
    }
    let (long, short) = (w.max(h), w.min(h));
    if long > short.saturating_mul(MAX_ASPECT) {
        return Err(AvatarError::Aspect(w, h));
    }
    Ok((w, h))
}

/// The centred square of `img`, scaled to `AVATAR_SIZE`.
fn square(img: &DynamicImage) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let x = w.saturating_sub(side) / 2;
    let y = h.saturating_sub(side) / 2;
    // Cut first (at most the decoded size), then scale (at most the output).
    let sq = img.crop_imm(x, y, side, side);
    sq.resize_exact(AVATAR_SIZE, AVATAR_SIZE, image::imageops::FilterType::Triangle)
}

/// Decodes under limits, crops to the centred square and encodes a 256x256 PNG.
pub fn reencode(bytes: &[u8]) -> Result<Vec<u8>, AvatarError> {
    check_dimensions(bytes)?;
    let mut r = reader(bytes)?;
    r.limits(limits());
    let img = r.decode().map_err(|e| AvatarError::Unreadable(e.to_string()))?;
    // The decoder agreed with the header (checked again: the data decides).
    if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        return Err(AvatarError::TooLarge(img.width(), img.height()));
    }
    let out_img = square(&img).to_rgba8();
    drop(img);
    let mut out = Vec::new();
    out_img
        .write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| AvatarError::Unreadable(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_thin_bomb_is_refused_from_its_header() {
        let bomb = png(DynamicImage::new_rgba16(4096, 1));
        assert!(bomb.len() < 1000, "a tiny file: {}", bomb.len());
        assert_eq!(reencode(&bomb), Err(AvatarError::Aspect(4096, 1)));
    }

    #[test]
    fn pictures_become_256_squares() {
        for (w, h) in [(1, 1), (100, 300), (640, 480), (300, 100)] {
            let out = reencode(&png(DynamicImage::new_rgb8(w, h))).unwrap();
            let img = image::load_from_memory(&out).unwrap();
            assert_eq!((img.width(), img.height()), (AVATAR_SIZE, AVATAR_SIZE));
        }
        assert_eq!(reencode(b"GIF89a...."), Err(AvatarError::Format));
        assert!(matches!(
            reencode(b"\x89PNG\r\n\x1a\nxx"),
            Err(AvatarError::Unreadable(_))
        ));
    }
}
