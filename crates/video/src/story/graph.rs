//! The libavfilter graph descriptions of a video Story: the clip's chain
//! (`movie`, seeked and looped, then the plan's fit), the sound's (the
//! clip's audio and the music mixed by `amix`), with file names escaped for
//! both quoting levels.

use std::path::Path;

use ff::filter;
use ffmpeg_next as ff;

use super::StoryPlan;
use crate::plan::AUDIO_RATE;
use storyforge_story::template::timing::VideoSpec;

/// Escapes a value for a filter option inside a filter graph description
/// (both of libavfilter's quoting levels).
fn graph_value(raw: &str) -> String {
    let mut once = String::new();
    for c in raw.chars() {
        if matches!(c, '\\' | '\'' | ':') {
            once.push('\\');
        }
        once.push(c);
    }
    let mut twice = String::new();
    for c in once.chars() {
        if matches!(c, '\\' | '\'' | '[' | ']' | ',' | ';') {
            twice.push('\\');
        }
        twice.push(c);
    }
    twice
}

fn file_arg(path: &Path) -> String {
    graph_value(&format!("file:{}", path.display()))
}

/// The filter chain that makes the background frames from the clip.
pub fn clip_chain(path: &Path, spec: &VideoSpec, p: &StoryPlan) -> String {
    let clip = spec.clip.as_ref();
    let start = clip.map_or(0.0, |c| c.start);
    let looped = clip.is_some_and(|c| c.looped);
    let d = p.duration;
    let mut chain = format!(
        "movie={}:sp={start:.6}:loop={}",
        file_arg(path),
        if looped { 0 } else { 1 }
    );
    // Looping restarts at the key frame before `start`; frames are counted
    // so time runs on across the seam.
    if looped {
        chain.push_str(",setpts=N/FRAME_RATE/TB");
    } else {
        chain.push_str(&format!(",trim=start={start:.6},setpts=PTS-STARTPTS"));
    }
    chain.push(',');
    chain.push_str(&p.plan.video_filter);
    chain.push_str(&format!(
        ",tpad=stop_mode=clone:stop_duration={d:.6},trim=end={d:.6}"
    ));
    chain
}

/// The filter graph description of the Story's sound: the clip's (unless
/// muted or silent) or silence, mixed with the music, `duration` long.
pub fn audio_chain(
    clip: Option<&Path>,
    spec: &VideoSpec,
    p: &StoryPlan,
    music: Option<&Path>,
) -> String {
    let d = p.duration;
    let fmt = format!("aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo");
    let base = match (clip, spec.clip.as_ref()) {
        (Some(path), Some(c)) if !c.muted && p.plan.has_audio => {
            let timing = if c.looped {
                "asetpts=N/SR/TB".to_string()
            } else {
                format!("atrim=start={:.6},asetpts=PTS-STARTPTS", c.start)
            };
            format!(
                "amovie={}:sp={:.6}:loop={},{timing},{fmt},apad,atrim=end={d:.6}",
                file_arg(path),
                c.start,
                if c.looped { 0 } else { 1 },
            )
        }
        _ => format!("anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=end={d:.6},aformat=sample_fmts=fltp"),
    };
    let (Some(path), Some(m)) = (music, spec.audio.as_ref()) else {
        return base;
    };
    let mut track = format!(
        "amovie={}:loop=0,asetpts=N/SR/TB,{fmt},volume={:.4}",
        file_arg(path),
        m.volume
    );
    if m.fade_in > 0.0 {
        track.push_str(&format!(",afade=t=in:st=0:d={:.6}", m.fade_in));
    }
    if m.fade_out > 0.0 {
        let st = (d - m.fade_out).max(0.0);
        track.push_str(&format!(",afade=t=out:st={st:.6}:d={:.6}", m.fade_out));
    }
    format!(
        "{base}[clip];{track},atrim=end={d:.6}[music];[clip][music]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,{fmt}"
    )
}

/// A graph of sources only (`movie`, `amovie`, `anullsrc`) ending in a buffer sink.
pub(super) fn video_source_graph(chain: &str) -> Result<filter::Graph, ff::Error> {
    let mut g = filter::Graph::new();
    g.add(
        &filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?,
        "out",
        "",
    )?;
    g.input("out", 0)?.parse(chain)?;
    g.validate()?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::graph_value;

    #[test]
    fn file_names_are_escaped_for_filter_graphs() {
        assert_eq!(graph_value("/a/b.mp4"), "/a/b.mp4");
        assert_eq!(graph_value("/a:b,c.mp4"), "/a\\\\:b\\,c.mp4");
        assert_eq!(graph_value("it's"), "it\\\\\\'s");
    }
}
