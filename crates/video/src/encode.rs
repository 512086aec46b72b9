//! The encoding half of the video stage, shared by clip transcodes and
//! video templates: x264/AAC encoders set up for the Story contract, filter
//! graphs, packet draining into the MP4 muxer, and the loop that encodes a
//! part again at a lower bitrate until it fits the byte budget, then checks
//! the contract and moves the file into place.

use std::path::Path;
use std::time::Instant;

use ff::{codec, encoder, filter, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ff;

use super::plan::{self, Part, Plan, AUDIO_BPS, AUDIO_RATE, OUT_H, OUT_W};
use super::transcode::Output;
use super::{probe, TranscodeOptions, VideoError};

pub(super) struct Ctx<'a> {
    pub(super) input: &'a Path,
    pub(super) shown: String,
    pub(super) opts: &'a TranscodeOptions,
    pub(super) started: Instant,
    /// The output's width and height: 1080×1920, less for a preview.
    pub(super) size: (u32, u32),
}

impl Ctx<'_> {
    pub(super) fn ff(&self, stage: &'static str) -> impl Fn(ff::Error) -> VideoError + '_ {
        move |e| VideoError::Ffmpeg {
            path: self.shown.clone(),
            stage,
            reason: e.to_string(),
        }
    }
    pub(super) fn check_deadline(&self) -> Result<(), VideoError> {
        if self.started.elapsed() > self.opts.deadline {
            return Err(VideoError::Deadline {
                path: self.shown.clone(),
                seconds: self.opts.deadline.as_secs(),
            });
        }
        Ok(())
    }
}

pub(super) fn fps_f64(fps: (i32, i32)) -> f64 {
    f64::from(fps.0) / f64::from(fps.1.max(1))
}

/// Encodes one part, lowering the bitrate until it fits the budget, then
/// checks the contract and moves it into place.
pub(super) fn encode_fitting(
    ctx: &Ctx<'_>,
    plan: &Plan,
    part: &Part,
    path: &Path,
    encode: &mut dyn FnMut(u64, &Path) -> Result<(), VideoError>,
) -> Result<Output, VideoError> {
    // A unique name per writer, fsynced before the rename (crash safety).
    let tmp = storyforge_base::util::atomic::temp_path(path);
    let budget = ctx.opts.max_bytes;
    let mut bps =
        plan::video_bitrate(budget, part.out_duration).map_err(|e| VideoError::Unusable {
            path: ctx.shown.clone(),
            message: e.to_string(),
        })?;
    let result = (|| {
        for attempt in 1..=4u32 {
            encode(bps, &tmp)?;
            let size = std::fs::metadata(&tmp)
                .map_err(|source| VideoError::Write {
                    path: tmp.display().to_string(),
                    source,
                })?
                .len();
            if size <= budget {
                let duration = check_contract(&tmp, plan, part, budget)?;
                storyforge_base::util::atomic::persist(&tmp, path).map_err(|source| {
                    VideoError::Write {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                return Ok(Output {
                    path: path.to_path_buf(),
                    bytes: size,
                    duration,
                    part: (part.index, part.count),
                    video_bps: bps,
                    attempts: attempt,
                });
            }
            tracing::info!(
                "{}: {} bytes is over the {budget}-byte budget at {} kb/s; encoding again lower",
                ctx.shown,
                size,
                bps / 1000
            );
            let overshoot = size as f64 / budget as f64;
            bps = ((bps as f64 / overshoot) * 0.92) as u64;
            if bps < 100_000 {
                break;
            }
        }
        Err(VideoError::Unusable {
            path: ctx.shown.clone(),
            message: format!(
                "cannot fit {:.1} s into {budget} bytes; raise --max-bytes",
                part.out_duration
            ),
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Probes a finished part and checks every promise of the output contract.
pub(super) fn check_contract(
    path: &Path,
    plan: &Plan,
    part: &Part,
    budget: u64,
) -> Result<f64, VideoError> {
    let fail = |message: String| VideoError::Contract {
        path: path.display().to_string(),
        message,
    };
    let facts = probe(path).map_err(|e| fail(e.to_string()))?;
    let v = facts
        .video
        .as_ref()
        .ok_or_else(|| fail("no video stream".into()))?;
    let mut problems = Vec::new();
    if v.codec != "h264" || v.profile.as_deref() != Some("High") {
        problems.push(format!(
            "video is {} {:?}, not H.264 High",
            v.codec, v.profile
        ));
    }
    if v.pixel_format.as_deref() != Some("yuv420p") {
        problems.push(format!("pixel format {:?}, not yuv420p", v.pixel_format));
    }
    if (v.width, v.height) != (OUT_W, OUT_H) {
        problems.push(format!("{}×{}, not {OUT_W}×{OUT_H}", v.width, v.height));
    }
    match v.fps {
        Some(f) if (f - fps_f64(plan.fps)).abs() < 0.05 && (23.0 - 0.01..=60.01).contains(&f) => {}
        other => problems.push(format!(
            "frame rate {other:?}, expected {:.3}",
            fps_f64(plan.fps)
        )),
    }
    match &facts.audio {
        Some(a) if a.codec == "aac" && a.sample_rate == AUDIO_RATE && a.channels == 2 => {}
        other => problems.push(format!("audio {other:?}, expected AAC stereo 48 kHz")),
    }
    let duration = facts.duration.unwrap_or(0.0);
    if (duration - part.out_duration).abs() > 0.1 {
        problems.push(format!(
            "it lasts {duration:.2} s but should last {:.2} s (the input may be truncated or damaged)",
            part.out_duration
        ));
    }
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(u64::MAX);
    if bytes > budget {
        problems.push(format!("{bytes} bytes is over the {budget}-byte budget"));
    }
    let faststart = std::fs::File::open(path)
        .and_then(|mut f| super::mp4::is_faststart(&mut f))
        .unwrap_or(false);
    if !faststart {
        problems.push("moov is not before mdat (no faststart)".into());
    }
    if problems.is_empty() {
        Ok(duration)
    } else {
        Err(fail(problems.join("; ")))
    }
}

/// Constant rate factor of the capped-CRF encode (docs/video.md).
pub const CRF: &str = "21";

/// Frames between keyframes: at most 2 s.
pub(super) fn keyint(fps: (i32, i32)) -> u32 {
    (2.0 * fps_f64(fps)).floor().max(1.0) as u32
}

/// x264 settings for a part capped at `bps`: closed GOP with a keyframe at
/// least every 2 s, the VBV cap, BT.709 tags, CABAC and 8×8 transforms on
/// (so every preset, ultrafast too, makes H.264 High), and a 20-frame lookahead with
/// no extra sync buffer, which keeps a 4K transcode under 400 MB resident
/// (x264's medium preset looks 40 frames ahead: about 150 MB more).
pub fn x264_params(fps: (i32, i32), bps: u64) -> String {
    let kbps = bps / 1000;
    let k = keyint(fps);
    format!(
        "keyint={k}:min-keyint=1:open-gop=0:vbv-maxrate={kbps}:vbv-bufsize={kbps}:rc-lookahead=20:sync-lookahead=0:cabac=1:8x8dct=1:colorprim=bt709:transfer=bt709:colormatrix=bt709:log=-1"
    )
}

pub(super) struct VideoOut {
    pub(super) enc: encoder::Video,
    pub(super) index: usize,
    pub(super) tb: Rational,
}

pub(super) struct AudioOut {
    pub(super) enc: encoder::Audio,
    pub(super) index: usize,
    pub(super) tb: Rational,
}

/// Adds an output stream for `codec`; returns its index and whether the
/// container wants global headers (it must be known before opening).
pub(super) fn add_stream(
    octx: &mut format::context::Output,
    codec: ff::Codec,
    ctx: &Ctx<'_>,
) -> Result<(usize, bool), VideoError> {
    let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let index = octx
        .add_stream(codec)
        .map_err(ctx.ff("encoder setup"))?
        .index();
    Ok((index, global))
}

/// Copies an opened encoder's parameters onto its output stream.
pub(super) fn attach<P: Into<codec::Parameters>>(
    octx: &mut format::context::Output,
    index: usize,
    params: P,
    ctx: &Ctx<'_>,
) -> Result<(), VideoError> {
    let mut st = octx.stream_mut(index).ok_or_else(|| VideoError::Ffmpeg {
        path: ctx.shown.clone(),
        stage: "encoder setup",
        reason: "output stream vanished".into(),
    })?;
    st.set_parameters(params);
    Ok(())
}

pub(super) fn open_video_encoder(
    octx: &mut format::context::Output,
    fps: (i32, i32),
    bps: u64,
    ctx: &Ctx<'_>,
) -> Result<VideoOut, VideoError> {
    let threads = ctx.opts.threads;
    let codec = encoder::find_by_name("libx264").ok_or_else(|| VideoError::Ffmpeg {
        path: ctx.shown.clone(),
        stage: "encoder setup",
        reason: "FFmpeg has no libx264 encoder (install libavcodec with x264)".into(),
    })?;
    let (index, global) = add_stream(octx, codec, ctx)?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(ctx.ff("encoder setup"))?;
    let tb = Rational::new(fps.1, fps.0);
    enc.set_width(ctx.size.0);
    enc.set_height(ctx.size.1);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(tb);
    enc.set_frame_rate(Some(Rational::new(fps.0, fps.1)));
    enc.set_aspect_ratio(Rational::new(1, 1));
    enc.set_colorspace(ff::color::Space::BT709);
    enc.set_color_range(ff::color::Range::MPEG);
    enc.set_gop(keyint(fps));
    enc.set_max_bit_rate(bps as usize);
    if global {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut o = Dictionary::new();
    o.set("preset", &ctx.opts.preset);
    o.set("profile", "high");
    o.set("crf", CRF);
    o.set("threads", &threads.to_string());
    o.set("x264-params", &x264_params(fps, bps));
    let enc = enc.open_with(o).map_err(ctx.ff("video encoder"))?;
    attach(octx, index, &enc, ctx)?;
    Ok(VideoOut { enc, index, tb })
}

pub(super) fn open_audio_encoder(
    octx: &mut format::context::Output,
    ctx: &Ctx<'_>,
) -> Result<AudioOut, VideoError> {
    let codec = encoder::find(codec::Id::AAC).ok_or_else(|| VideoError::Ffmpeg {
        path: ctx.shown.clone(),
        stage: "encoder setup",
        reason: "FFmpeg has no AAC encoder".into(),
    })?;
    let (index, global) = add_stream(octx, codec, ctx)?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(ctx.ff("encoder setup"))?;
    let tb = Rational::new(1, AUDIO_RATE as i32);
    enc.set_rate(AUDIO_RATE as i32);
    enc.set_channel_layout(ff::ChannelLayout::STEREO);
    enc.set_format(format::Sample::F32(format::sample::Type::Planar));
    enc.set_bit_rate(AUDIO_BPS as usize);
    enc.set_time_base(tb);
    if global {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let enc = enc.open_as(codec).map_err(ctx.ff("audio encoder"))?;
    attach(octx, index, &enc, ctx)?;
    Ok(AudioOut { enc, index, tb })
}

pub(super) fn video_graph(
    first: &frame::Video,
    tb: Rational,
    chain: &str,
) -> Result<filter::Graph, ff::Error> {
    let mut g = filter::Graph::new();
    let pix: ff::ffi::AVPixelFormat = first.format().into();
    let sar = first.aspect_ratio();
    let (sn, sd) = if sar.numerator() > 0 && sar.denominator() > 0 {
        (sar.numerator(), sar.denominator())
    } else {
        (1, 1)
    };
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={sn}/{sd}",
        first.width(),
        first.height(),
        pix as i32,
        tb.numerator(),
        tb.denominator()
    );
    g.add(
        &filter::find("buffer").ok_or(ff::Error::FilterNotFound)?,
        "in",
        &args,
    )?;
    g.add(
        &filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?,
        "out",
        "",
    )?;
    g.output("in", 0)?.input("out", 0)?.parse(chain)?;
    g.validate()?;
    Ok(g)
}

pub(super) fn audio_graph(
    first: Option<&frame::Audio>,
    tb: Rational,
    chain: &str,
) -> Result<filter::Graph, ff::Error> {
    let mut g = filter::Graph::new();
    g.add(
        &filter::find("abuffersink").ok_or(ff::Error::FilterNotFound)?,
        "out",
        "",
    )?;
    match first {
        Some(f) => {
            let layout = layout_of(f);
            let fmt: ff::ffi::AVSampleFormat = f.format().into();
            let args = format!(
                "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
                tb.numerator(),
                tb.denominator(),
                f.rate(),
                fmt as i32,
                layout.bits()
            );
            g.add(
                &filter::find("abuffer").ok_or(ff::Error::FilterNotFound)?,
                "in",
                &args,
            )?;
            g.output("in", 0)?.input("out", 0)?.parse(chain)?;
        }
        None => g.input("out", 0)?.parse(chain)?,
    }
    if let Some(mut sink) = g.get("out") {
        sink.sink().set_frame_size(1024);
    }
    g.validate()?;
    Ok(g)
}

pub(super) fn layout_of(f: &frame::Audio) -> ff::ChannelLayout {
    let l = f.channel_layout();
    if l.bits() != 0 {
        l
    } else {
        ff::ChannelLayout::default(i32::from(f.channels()))
    }
}

/// Drains encoded packets into the muxer. Video packets without a duration
/// get one frame (the encoder's time base is 1/fps); without it the muxer
/// drops the last frame's duration from the track.
pub(super) fn drain(
    enc: &mut encoder::Encoder,
    index: usize,
    tb: Rational,
    octx: &mut format::context::Output,
    ctx: &Ctx<'_>,
) -> Result<(), VideoError> {
    let ost_tb = octx.stream(index).map(|s| s.time_base()).unwrap_or(tb);
    let mut pkt = Packet::empty();
    while enc.receive_packet(&mut pkt).is_ok() {
        pkt.set_stream(index);
        if pkt.duration() <= 0 {
            pkt.set_duration(1);
        }
        pkt.rescale_ts(tb, ost_tb);
        pkt.write_interleaved(octx).map_err(ctx.ff("writing"))?;
    }
    Ok(())
}

/// Sends a decoded frame into a graph's `in` source.
pub(super) fn feed(
    graph: &mut Option<filter::Graph>,
    frame: &frame::Frame,
    stage: &'static str,
    ctx: &Ctx<'_>,
) -> Result<(), VideoError> {
    if let Some(mut src) = graph.as_mut().and_then(|g| g.get("in")) {
        src.source().add(frame).map_err(ctx.ff(stage))?;
    }
    Ok(())
}

/// Tells a graph's `in` source that no more frames come.
pub(super) fn flush(
    graph: &mut Option<filter::Graph>,
    stage: &'static str,
    ctx: &Ctx<'_>,
) -> Result<(), VideoError> {
    if let Some(mut src) = graph.as_mut().and_then(|g| g.get("in")) {
        src.source().flush().map_err(ctx.ff(stage))?;
    }
    Ok(())
}

/// Creates the MP4 at `tmp` with the Story's video and audio encoders and
/// writes its header (faststart).
pub(super) fn open_output(
    tmp: &Path,
    fps: (i32, i32),
    bps: u64,
    ctx: &Ctx<'_>,
) -> Result<(format::context::Output, VideoOut, AudioOut), VideoError> {
    let mut octx = format::output_as(&tmp, "mp4").map_err(ctx.ff("create output"))?;
    let mut vout = open_video_encoder(&mut octx, fps, bps, ctx)?;
    let mut aout = open_audio_encoder(&mut octx, ctx)?;
    let mut mux = Dictionary::new();
    mux.set("movflags", "+faststart");
    let ignored = {
        let unused = octx
            .write_header_with(mux)
            .map_err(ctx.ff("write header"))?;
        unused.iter().next().is_some()
    };
    if ignored {
        return Err(VideoError::Ffmpeg {
            path: ctx.shown.clone(),
            stage: "write header",
            reason: "the MP4 muxer ignored movflags=+faststart".into(),
        });
    }
    vout.tb = vout.enc.time_base();
    aout.tb = aout.enc.time_base();
    Ok((octx, vout, aout))
}
