//! The plain facts of a media file (containers, streams, duration) that the
//! planner and the validator's video rules work from, and why a file could
//! not be read. Pure data: built by [`super::probe`] with FFmpeg, or by hand
//! in tests, and usable without the `video` feature.

use serde::Serialize;

/// What a media file is, as FFmpeg's demuxer and decoders see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaFacts {
    /// Container format names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// Duration in seconds, when known.
    pub duration: Option<f64>,
    /// The best video stream, if any.
    pub video: Option<VideoStream>,
    /// The best audio stream, if any.
    pub audio: Option<AudioStream>,
}

/// Facts of a video stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoStream {
    /// Codec name, e.g. `h264`.
    pub codec: String,
    /// Coded width in px.
    pub width: u32,
    /// Coded height in px.
    pub height: u32,
    /// Average frame rate, when known.
    pub fps: Option<f64>,
    /// Pixel format name, e.g. `yuv420p`.
    pub pixel_format: Option<String>,
    /// Bits per colour component (8, 10…).
    pub bit_depth: u8,
    /// Display rotation in degrees clockwise (0, 90, 180, 270).
    pub rotation: u16,
    /// True when the transfer is HDR (PQ or HLG).
    pub hdr: bool,
    /// True when the header's average and base rates agree (constant frame rate).
    pub constant_rate: bool,
    /// Frame rate as a fraction (numerator, denominator), when known.
    pub rate: Option<(i32, i32)>,
    /// Profile name as FFmpeg reports it, e.g. `High`.
    pub profile: Option<String>,
    /// True when the first decoded frame is interlaced (fields, not a
    /// progressive picture).
    pub interlaced: bool,
    /// Video bit rate in bits per second from the header, when known.
    pub bit_rate: Option<u64>,
}

/// Facts of an audio stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioStream {
    /// Codec name, e.g. `aac`.
    pub codec: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
}

/// Why a file could not be probed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: not a readable media file ({reason}); check the file is complete and is a video")]
pub struct ProbeError {
    /// The file.
    pub path: String,
    /// What FFmpeg said.
    pub reason: String,
}

/// The clockwise rotation a display matrix asks for (FFmpeg's
/// `-av_display_rotation_get`), normalised to 0/90/180/270 the way the ffmpeg
/// tool does before it inserts transpose/flip filters.
pub fn rotation_from_matrix(m: &[f64]) -> u16 {
    let s0 = m[0].hypot(m[3]);
    let s1 = m[1].hypot(m[4]);
    if s0 == 0.0 || s1 == 0.0 {
        return 0;
    }
    let cw = (m[1] / s1).atan2(m[0] / s0).to_degrees();
    let snapped = ((cw / 90.0).round() as i64).rem_euclid(4);
    (snapped * 90) as u16
}

#[cfg(test)]
mod tests {
    use super::rotation_from_matrix;

    fn matrix(deg_ccw: f64) -> Vec<f64> {
        let (s, c) = deg_ccw.to_radians().sin_cos();
        let f = 65536.0;
        vec![
            c * f,
            -s * f,
            0.0,
            s * f,
            c * f,
            0.0,
            0.0,
            0.0,
            1073741824.0,
        ]
    }

    #[test]
    fn display_matrix_to_clockwise_degrees() {
        assert_eq!(rotation_from_matrix(&matrix(0.0)), 0);
        assert_eq!(rotation_from_matrix(&matrix(-90.0)), 90);
        assert_eq!(rotation_from_matrix(&matrix(90.0)), 270);
        assert_eq!(rotation_from_matrix(&matrix(180.0)), 180);
        assert_eq!(rotation_from_matrix(&[0.0; 9]), 0);
    }
}
