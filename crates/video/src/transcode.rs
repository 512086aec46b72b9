//! One input file → Story MP4 part(s): FFmpeg decode → libavfilter (rotate,
//! fit, tone-map, CFR; audio to stereo 48 kHz in 1024-sample frames) →
//! libx264 High / AAC-LC → MP4 with faststart. Each part is encoded with a
//! planned bitrate cap, checked by probing the file, and encoded again lower
//! if it came out over the budget. Outputs appear only when complete.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ff::{codec, decoder, filter, format, frame, media, Rational, Rescale};
use ffmpeg_next as ff;
use serde::Serialize;

pub use super::encode::x264_params;
use super::encode::{
    audio_graph, drain, encode_fitting, feed, flush, fps_f64, layout_of, open_output, video_graph,
    AudioOut, Ctx, VideoOut, CRF,
};
use super::plan::{self, Part, Plan, AUDIO_RATE, OUT_H, OUT_W};
use super::{probe, MediaFacts, TranscodeOptions, VideoError};

/// One finished Story video.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// The MP4 written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its duration in seconds (probed).
    pub duration: f64,
    /// Part index (1-based) and count.
    pub part: (usize, usize),
    /// Video bitrate cap of the final encode, bits/s.
    pub video_bps: u64,
    /// Encodes needed to fit the budget.
    pub attempts: u32,
}

/// Frames done, frames in all, and the output frame rate, for progress bars.
pub type Progress<'a> = &'a (dyn Fn(u64, u64, f64) + Sync);

/// The file stem outputs of `input` are named after.
pub fn output_stem(input: &Path) -> String {
    input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "video".into())
}

/// The output name of a part: `STEM.mp4`, or `STEM.part-1-of-2.mp4`.
pub fn part_name(stem: &str, part: &Part) -> String {
    if part.count > 1 {
        format!("{stem}.part-{}-of-{}.mp4", part.index, part.count)
    } else {
        format!("{stem}.mp4")
    }
}

/// What [`transcode_file`] would do with `input`: the probed facts, the plan
/// and the first-try video bitrate cap of each part (bits/s).
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    /// The source as probed.
    pub facts: MediaFacts,
    /// The plan.
    pub plan: Plan,
    /// Video bitrate cap per part.
    pub video_bps: Vec<u64>,
    /// x264 preset.
    pub preset: String,
    /// x264 constant rate factor.
    pub crf: String,
    /// x264 parameters per part (`-x264-params` for the ffmpeg tool).
    pub x264_params: Vec<String>,
    /// x264 threads (0: x264 decides).
    pub x264_threads: usize,
}

/// Plans `input` without encoding anything (`storyforge transcode --plan`).
pub fn plan_file(input: &Path, opts: &TranscodeOptions) -> Result<PlannedFile, VideoError> {
    let facts = probe(input)?;
    let tonemap = filter::find("zscale").is_some() && filter::find("tonemap").is_some();
    let unusable = |e: plan::PlanError| VideoError::Unusable {
        path: input.display().to_string(),
        message: e.to_string(),
    };
    let plan = plan::plan(&facts, opts, tonemap).map_err(unusable)?;
    let video_bps: Vec<u64> = plan
        .parts
        .iter()
        .map(|p| plan::video_bitrate(opts.max_bytes, p.out_duration))
        .collect::<Result<_, _>>()
        .map_err(unusable)?;
    let x264_params = video_bps
        .iter()
        .map(|b| x264_params(plan.fps, *b))
        .collect();
    Ok(PlannedFile {
        facts,
        plan,
        video_bps,
        preset: opts.preset.clone(),
        crf: CRF.to_string(),
        x264_params,
        x264_threads: opts.threads,
    })
}

/// Transcodes `input` into `out_dir`, one MP4 per Story part. On error no
/// output of this input is left behind.
pub fn transcode_file(
    input: &Path,
    out_dir: &Path,
    opts: &TranscodeOptions,
    progress: Progress<'_>,
) -> Result<Vec<Output>, VideoError> {
    transcode_file_as(input, out_dir, &output_stem(input), opts, progress)
}

/// [`transcode_file`] with outputs named after `stem` (a batch keeps two
/// inputs called `clip` apart).
pub fn transcode_file_as(
    input: &Path,
    out_dir: &Path,
    stem: &str,
    opts: &TranscodeOptions,
    progress: Progress<'_>,
) -> Result<Vec<Output>, VideoError> {
    ff::init().map_err(|e| VideoError::Ffmpeg {
        path: input.display().to_string(),
        stage: "init",
        reason: e.to_string(),
    })?;
    ff::util::log::set_level(ff::util::log::Level::Fatal);
    let ctx = Ctx {
        input,
        shown: input.display().to_string(),
        opts,
        started: Instant::now(),
        size: (OUT_W, OUT_H),
    };
    let facts = probe(input)?;
    let tonemap = filter::find("zscale").is_some() && filter::find("tonemap").is_some();
    let plan = plan::plan(&facts, opts, tonemap).map_err(|e| VideoError::Unusable {
        path: ctx.shown.clone(),
        message: e.to_string(),
    })?;
    let total: u64 = plan
        .parts
        .iter()
        .map(|p| (p.out_duration * fps_f64(plan.fps)).round() as u64)
        .sum();
    let mut done_before = 0u64;
    let mut outputs: Vec<Output> = Vec::new();
    for part in &plan.parts {
        let path = out_dir.join(part_name(stem, part));
        let report = |n: u64| progress(done_before + n, total, fps_f64(plan.fps));
        let mut encode =
            |bps: u64, tmp: &Path| encode_part(&ctx, &facts, &plan, part, bps, tmp, &report);
        match encode_fitting(&ctx, &plan, part, &path, &mut encode) {
            Ok(o) => outputs.push(o),
            Err(e) => {
                for o in &outputs {
                    let _ = std::fs::remove_file(&o.path);
                }
                return Err(e);
            }
        }
        done_before += (part.out_duration * fps_f64(plan.fps)).round() as u64;
    }
    Ok(outputs)
}

struct VideoPipe {
    dec: decoder::Video,
    graph: Option<filter::Graph>,
    tb: Rational,
    start_pts: i64,
    chain: String,
    frames_out: u64,
    frames_in: u64,
}

impl VideoPipe {
    fn push_decoded(
        &mut self,
        ctx: &Ctx<'_>,
        out: &mut VideoOut,
        octx: &mut format::context::Output,
        progress: &dyn Fn(u64),
    ) -> Result<(), VideoError> {
        let mut decoded = frame::Video::empty();
        while self.dec.receive_frame(&mut decoded).is_ok() {
            self.frames_in += 1;
            let pts = decoded
                .timestamp()
                .and_then(|t| t.checked_sub(self.start_pts));
            decoded.set_pts(pts);
            if self.graph.is_none() {
                self.graph = Some(
                    video_graph(&decoded, self.tb, &self.chain)
                        .map_err(ctx.ff("video filter setup"))?,
                );
            }
            feed(&mut self.graph, &decoded, "video filter", ctx)?;
            self.pull(ctx, out, octx, progress)?;
        }
        Ok(())
    }

    fn pull(
        &mut self,
        ctx: &Ctx<'_>,
        out: &mut VideoOut,
        octx: &mut format::context::Output,
        progress: &dyn Fn(u64),
    ) -> Result<(), VideoError> {
        let Some(g) = self.graph.as_mut() else {
            return Ok(());
        };
        let Some(mut sink) = g.get("out") else {
            return Ok(());
        };
        let sink_tb = sink.sink().time_base();
        let mut filtered = frame::Video::empty();
        while sink.sink().frame(&mut filtered).is_ok() {
            let pts = filtered.pts().map(|p| p.rescale(sink_tb, out.tb));
            filtered.set_pts(pts);
            filtered.set_kind(ff::picture::Type::None);
            out.enc
                .send_frame(&filtered)
                .map_err(ctx.ff("video encode"))?;
            self.frames_out += 1;
            progress(self.frames_out);
            drain(&mut out.enc, out.index, out.tb, octx, ctx)?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        ctx: &Ctx<'_>,
        out: &mut VideoOut,
        octx: &mut format::context::Output,
        progress: &dyn Fn(u64),
    ) -> Result<(), VideoError> {
        let _ = self.dec.send_eof();
        self.push_decoded(ctx, out, octx, progress)?;
        flush(&mut self.graph, "video filter", ctx)?;
        self.pull(ctx, out, octx, progress)?;
        out.enc.send_eof().map_err(ctx.ff("video encode"))?;
        drain(&mut out.enc, out.index, out.tb, octx, ctx)
    }
}

struct AudioPipe {
    dec: Option<decoder::Audio>,
    graph: Option<filter::Graph>,
    tb: Rational,
    start_pts: i64,
    chain: String,
}

impl AudioPipe {
    fn push_decoded(
        &mut self,
        ctx: &Ctx<'_>,
        out: &mut AudioOut,
        octx: &mut format::context::Output,
    ) -> Result<(), VideoError> {
        let Some(dec) = self.dec.as_mut() else {
            return Ok(());
        };
        let mut decoded = frame::Audio::empty();
        while dec.receive_frame(&mut decoded).is_ok() {
            let pts = decoded
                .timestamp()
                .and_then(|t| t.checked_sub(self.start_pts));
            decoded.set_pts(pts);
            let layout = layout_of(&decoded);
            decoded.set_channel_layout(layout);
            if self.graph.is_none() {
                self.graph = Some(
                    audio_graph(Some(&decoded), self.tb, &self.chain)
                        .map_err(ctx.ff("audio filter setup"))?,
                );
            }
            feed(&mut self.graph, &decoded, "audio filter", ctx)?;
            pull_audio(&mut self.graph, ctx, out, octx)?;
        }
        Ok(())
    }
}

fn pull_audio(
    graph: &mut Option<filter::Graph>,
    ctx: &Ctx<'_>,
    out: &mut AudioOut,
    octx: &mut format::context::Output,
) -> Result<(), VideoError> {
    {
        let Some(g) = graph.as_mut() else {
            return Ok(());
        };
        let Some(mut sink) = g.get("out") else {
            return Ok(());
        };
        let mut filtered = frame::Audio::empty();
        while sink.sink().frame(&mut filtered).is_ok() {
            out.enc
                .send_frame(&filtered)
                .map_err(ctx.ff("audio encode"))?;
            drain(&mut out.enc, out.index, out.tb, octx, ctx)?;
        }
        Ok(())
    }
}

impl AudioPipe {
    fn finish(
        &mut self,
        ctx: &Ctx<'_>,
        out: &mut AudioOut,
        octx: &mut format::context::Output,
        silent_chain: &str,
    ) -> Result<(), VideoError> {
        if let Some(dec) = self.dec.as_mut() {
            let _ = dec.send_eof();
        }
        self.push_decoded(ctx, out, octx)?;
        if self.graph.is_none() {
            // No audio track, or no audio frame decoded: a silent track.
            self.graph = Some(
                audio_graph(None, self.tb, silent_chain).map_err(ctx.ff("audio filter setup"))?,
            );
        } else {
            flush(&mut self.graph, "audio filter", ctx)?;
        }
        pull_audio(&mut self.graph, ctx, out, octx)?;
        out.enc.send_eof().map_err(ctx.ff("audio encode"))?;
        drain(&mut out.enc, out.index, out.tb, octx, ctx)
    }
}

/// Frame-threaded decoding, except for sources above 1080p, where every
/// extra decoder thread holds its own set of large reference frames.
fn decoder_threads(ctx: &Ctx<'_>, width: u32, height: u32) -> ff::threading::Config {
    let big = u64::from(width) * u64::from(height) > 1920 * 1088;
    ff::threading::Config {
        kind: ff::threading::Type::Frame,
        count: if big { 1 } else { ctx.opts.threads.max(1) },
        ..Default::default()
    }
}

/// One encode of one part at a video bitrate cap, into `tmp`.
fn encode_part(
    ctx: &Ctx<'_>,
    facts: &MediaFacts,
    plan: &Plan,
    part: &Part,
    bps: u64,
    tmp: &Path,
    progress: &dyn Fn(u64),
) -> Result<(), VideoError> {
    // Regular files only, the `file` protocol only, and every read
    // interrupted at the file's deadline (a stalled read cannot hang us).
    let mut ictx =
        super::probe::open_input(ctx.input, ctx.started + ctx.opts.deadline).map_err(|reason| {
            VideoError::Ffmpeg {
                path: ctx.shown.clone(),
                stage: "open",
                reason,
            }
        })?;
    let vstream = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| VideoError::Unusable {
            path: ctx.shown.clone(),
            message: "no video stream".into(),
        })?;
    let vidx = vstream.index();
    let vtb = vstream.time_base();
    let vstart = vstream.start_time();
    let mut vctx = codec::context::Context::from_parameters(vstream.parameters())
        .map_err(ctx.ff("video decoder"))?;
    let (sw, sh) = facts.video.as_ref().map_or((0, 0), |v| (v.width, v.height));
    vctx.set_threading(decoder_threads(ctx, sw, sh));
    let vdec = vctx.decoder().video().map_err(ctx.ff("video decoder"))?;
    let astream = ictx.streams().best(media::Type::Audio);
    let (aidx, adec, atb, astart) = match astream {
        Some(s) => {
            let dec = codec::context::Context::from_parameters(s.parameters())
                .and_then(|c| c.decoder().audio())
                .ok();
            (Some(s.index()), dec, s.time_base(), s.start_time())
        }
        None => (None, None, Rational::new(1, AUDIO_RATE as i32), 0),
    };
    // One origin for both streams (the earlier start), so an offset between
    // audio and video survives.
    let secs = |start: i64, tb: Rational| {
        if start == ff::ffi::AV_NOPTS_VALUE {
            None
        } else {
            Some(start as f64 * f64::from(tb))
        }
    };
    let origin = [secs(vstart, vtb), aidx.and_then(|_| secs(astart, atb))]
        .into_iter()
        .flatten()
        .fold(f64::INFINITY, f64::min);
    let origin = if origin.is_finite() { origin } else { 0.0 };
    let in_tb = |tb: Rational| (origin / f64::from(tb)).round() as i64;
    let (s, e, out_d) = (part.start, part.start + part.duration, part.out_duration);
    let trim = part.count > 1;
    let mut vchain = String::new();
    if trim {
        vchain.push_str(&format!(
            // Relative to the part's start, not each stream's first
            // frame, so an offset between audio and video survives.
            "trim=start={s:.6}:end={e:.6},setpts=PTS-{s:.6}/TB,"
        ));
    }
    vchain.push_str(&plan.video_filter);
    // Hold the last frame to the full length: pads short clips to 3 s, and a
    // video track that ends before its audio (or a cover picture) still
    // lasts as long as the Story.
    vchain.push_str(&format!(
        ",tpad=stop_mode=clone:stop_duration={out_d:.6},trim=end={out_d:.6}"
    ));
    let mut achain = String::new();
    if trim {
        achain.push_str(&format!(
            "atrim=start={s:.6}:end={e:.6},asetpts=PTS-{s:.6}/TB,"
        ));
    }
    achain.push_str(&format!(
        "aresample={AUDIO_RATE}:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_dur={out_d:.6},atrim=end={out_d:.6}"
    ));
    let silent =
        format!("anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=end={out_d:.6},aformat=sample_fmts=fltp");

    if trim && s > 0.0 {
        let target = ((origin + s - 3.0).max(origin) * f64::from(ff::ffi::AV_TIME_BASE)) as i64;
        let _ = ictx.seek(target, ..target);
    }

    let (mut octx, mut vout, mut aout) = open_output(tmp, plan.fps, bps, ctx)?;

    let mut video = VideoPipe {
        dec: vdec,
        graph: None,
        tb: vtb,
        start_pts: in_tb(vtb),
        chain: vchain,
        frames_out: 0,
        frames_in: 0,
    };
    let mut audio = AudioPipe {
        dec: adec,
        graph: None,
        tb: atb,
        start_pts: in_tb(atb),
        chain: achain,
    };
    let stop_after = if trim { Some(e + 1.0) } else { None };
    let (mut video_done, mut audio_done) = (false, aidx.is_none());
    for (stream, packet) in ictx.packets() {
        ctx.check_deadline()?;
        let idx = stream.index();
        if let (Some(limit), Some(pts)) = (stop_after, packet.pts()) {
            let t = pts as f64 * f64::from(stream.time_base()) - origin;
            if t > limit {
                video_done |= idx == vidx;
                audio_done |= Some(idx) == aidx;
                if video_done && audio_done {
                    break;
                }
                continue;
            }
        }
        if idx == vidx {
            if video.dec.send_packet(&packet).is_ok() {
                video.push_decoded(ctx, &mut vout, &mut octx, progress)?;
            }
        } else if Some(idx) == aidx {
            if let Some(dec) = audio.dec.as_mut() {
                if dec.send_packet(&packet).is_ok() {
                    audio.push_decoded(ctx, &mut aout, &mut octx)?;
                }
            }
        }
    }
    // An interrupted read ends the packets early: that is the deadline.
    ctx.check_deadline()?;
    video.finish(ctx, &mut vout, &mut octx, progress)?;
    audio.finish(ctx, &mut aout, &mut octx, &silent)?;
    if video.frames_in == 0 || video.frames_out == 0 {
        return Err(VideoError::Unusable {
            path: ctx.shown.clone(),
            message: "no video frame could be decoded; the file is damaged".into(),
        });
    }
    octx.write_trailer().map_err(ctx.ff("write trailer"))?;
    Ok(())
}
