#!/usr/bin/env bash
# Regenerates the media the two shipped video templates use, with the ffmpeg
# command-line tool from Debian (apt-get install ffmpeg). Everything is
# synthesised by FFmpeg's own generators (no footage, no recordings), so the
# outputs are ours to redistribute under the project's licence. Only needed
# to change them: the files are committed, tests and the demo never run this.
set -euo pipefail
cd "$(dirname "$0")/../templates/assets"
ff() { ffmpeg -v error -y "$@"; }

# product-clip.mp4: 6 s, 540x960 at 30 fps, slowly drifting colour gradients
# with a soft tone, standing in for a product shot (the template loops it).
ff -f lavfi -i "gradients=s=540x960:r=30:d=6:c0=0x2b1d14:c1=0xc8553d:c2=0xf4efe6:c3=0x6b4e3d:nb_colors=4:speed=0.03:type=radial" \
   -f lavfi -i "sine=frequency=196:sample_rate=48000:duration=6,volume=0.15" \
   -c:v libx264 -preset veryslow -crf 32 -pix_fmt yuv420p -c:a aac -b:a 48k -shortest -movflags +faststart product-clip.mp4

# photo.jpg: a 1080x1920 still (a Mandelbrot detail) for the slow-zoom template.
ff -f lavfi -i "mandelbrot=s=1080x1920:start_scale=0.006:start_x=-0.7436:start_y=0.1318:maxiter=400,gblur=sigma=1.5" \
   -frames:v 1 -q:v 8 photo.jpg

# music.m4a: 12 s of a four-chord arpeggio (A minor, F, C, G) with a pulse,
# AAC 64 kb/s stereo.
chord() { # root third fifth in Hz, 3 s each
  echo "0.25*sin(2*PI*$1*t)*(0.6+0.4*sin(2*PI*2*t))+0.18*sin(2*PI*$2*t)+0.15*sin(2*PI*$3*t)"
}
ff -f lavfi -i "aevalsrc='if(lt(t,3),$(chord 220 261.63 329.63),if(lt(t,6),$(chord 174.61 220 261.63),if(lt(t,9),$(chord 261.63 329.63 392),$(chord 196 246.94 293.66))))':s=48000:d=12:c=stereo" \
   -af "afade=t=in:d=0.05,afade=t=out:st=11.9:d=0.1" -c:a aac -b:a 64k music.m4a
ls -l product-clip.mp4 photo.jpg music.m4a
