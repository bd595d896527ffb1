//! Media settings the browser does not expose as an API, written into a session description.
//!
//! The `a=fmtp` parameters of a description say what its author wants to receive; a browser's encoder follows the
//! other side's. So the call applies [`munge`] to each description the peer sends before handing it to
//! `setRemoteDescription`, and to its own offers before `setLocalDescription`:
//! - Opus: our encoder adds in-band forward error correction (a lost packet is rebuilt from the next one) and, in
//!   silence, sends almost nothing (DTX), leaving the bits to video.
//! - Video: a short `rtx-time` on every RTX payload type. Chromium's receiver sizes its waits for video from it:
//!   without a decodable frame for three times it (3 s without `rtx-time`), it asks for a keyframe, and again at
//!   that pace until one comes; and it holds a decodable frame back for its playout schedule no longer than that
//!   either. So once an outage ends, a receiver asks for a keyframe within a second rather than three (what that
//!   gives is measured by the network benchmark's outage profile, `bench/NETWORK.md`). A receiver's settings come
//!   from its own description: the offerer's from its offer, the answerer's from its answer, which copies
//!   `rtx-time` from the offer, so answers keep the browser's implicit form.
//!
//! Which video codecs a connection offers is an API (`setCodecPreferences`), but what it keeps, [`keep_video_codec`],
//! is decided here too: it is most of a description's length.

/// The camera's `rtx-time`, in milliseconds (a string: the wasm spends no formatting on it). A camera sends 20 to
/// 30 frames a second, a paused or stopped one nothing (the few keyframe requests that draws are ignored), so three
/// times this is room enough; on thin links it draws more keyframe requests than the browser's 3 s (a frame late
/// behind a queue), a price measured in the benchmark's 500 kbit/s calls.
pub const CAMERA_RTX_TIME_MS: &str = "250";

/// The shared screen's `rtx-time`: three times it stays well above the 1 s at which Chromium repeats the last frame
/// of a still screen, or the receiver would ask for a keyframe (a whole screen's) between repeats whenever one is
/// late.
pub const SCREEN_RTX_TIME_MS: &str = "500";

/// Whether a video codec of the browser's (its MIME type and `a=fmtp` parameters, as `getCapabilities` lists it)
/// is offered: VP8, which every browser sends and decodes and Chromium picks first; H.264's constrained baseline
/// in packetization mode 1, which every browser has too and Safari's hardware prefers; and what makes video
/// resilient (retransmission, RED, ULPFEC). Chromium lists some twenty more (VP9, AV1, H.265, H.264 profiles), each
/// with its retransmission payload type, in every video section: offers and answers twice as long, which a thin
/// link carries at the start of every call (half a second each way at 500 kbit/s, `bench/NETWORK.md`).
pub fn keep_video_codec(mime_type: &str, fmtp: &str) -> bool {
    // Browsers write the type in lower case, the codec's name as its registration does, parameters in lower case.
    let Some(name) = mime_type.strip_prefix("video/") else { return false };
    let is = |codec: &str| name.eq_ignore_ascii_case(codec);
    if is("H264") {
        return fmtp.contains("packetization-mode=1") && fmtp.contains("profile-level-id=42e01f");
    }
    is("VP8") || is("rtx") || is("red") || is("ulpfec")
}

/// `sdp` with `useinbandfec=1` and `usedtx=1` on every Opus payload type's `a=fmtp` line (every browser writes
/// one), and `rtx-time` on every RTX payload type's that has none (an RTX line is the one naming its codec with
/// `apt=`): [`CAMERA_RTX_TIME_MS`] in the first video section, which is the camera's (every connection's
/// transceivers are the microphone's, the camera's and the screen's, in that order), [`SCREEN_RTX_TIME_MS`] in
/// the others. Feedback lines of a payload type their section's `m=` line does not list are left out ([`unlisted`]).
/// Other lines as they were, line endings kept. Payload types are read per media section: a number is
/// Opus's only in the section whose `a=rtpmap` says so (BUNDLE makes them unique across sections, but a description
/// without it may reuse one for video).
pub fn munge(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len() + 32);
    let mut rest = sdp;
    let mut camera = true;
    while !rest.is_empty() {
        // A media section (or the session part before the first) ends where the next line starts with `m=`.
        let end = rest.match_indices("\nm=").next().map_or(rest.len(), |(at, _)| at + 1);
        let (section, after) = rest.split_at(end);
        let rtx_time = if camera && section.starts_with("m=video") {
            camera = false;
            CAMERA_RTX_TIME_MS
        } else {
            SCREEN_RTX_TIME_MS
        };
        munge_section(section, rtx_time, &mut out);
        rest = after;
    }
    out
}

/// [`munge`] for one media section, appended to `out`, its RTX payload types given `rtx_time`.
fn munge_section(section: &str, rtx_time: &str, out: &mut String) {
    for line in section.split_inclusive('\n') {
        // Its ending cut off by two `strip_suffix`es: lighter in the wasm than `trim_end_matches` (docs/SIZE.md).
        let text = line.strip_suffix('\n').unwrap_or(line);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if unlisted(text, section) {
            continue;
        }
        let fmtp = text.strip_prefix("a=fmtp:").and_then(|rest| rest.split_once(' '));
        if fmtp.is_some_and(|(_, parameters)| parameters.contains("apt=") && !parameters.contains("rtx-time")) {
            out.push_str(text);
            out.push_str(";rtx-time=");
            out.push_str(rtx_time);
            out.push_str(&line[text.len()..]);
            continue;
        }
        // Opus's payload type if its section's `a=rtpmap` says so (looked up, not collected: no list in the wasm).
        let Some((pt, parameters)) =
            fmtp.filter(|(pt, _)| section.split('\n').any(|line| opus_payload_type(line) == Some(pt)))
        else {
            out.push_str(line);
            continue;
        };
        out.push_str("a=fmtp:");
        out.push_str(pt);
        out.push(' ');
        for parameter in parameters.split(';').map(str::trim) {
            let key = parameter.split_once('=').map_or(parameter, |(key, _)| key);
            if !parameter.is_empty() && key != "useinbandfec" && key != "usedtx" {
                out.push_str(parameter);
                out.push(';');
            }
        }
        out.push_str("useinbandfec=1;usedtx=1");
        out.push_str(&line[text.len()..]);
    }
}

/// Whether `line` is an `a=rtcp-fb` line of a payload type its media section's `m=` line does not list. Firefox
/// leaves those of the codecs `setCodecPreferences` took out in its offers, and Chromium refuses a description that
/// has one ("Failed to parse codecs correctly"): they say nothing, and go.
#[inline(never)]
fn unlisted(line: &str, section: &str) -> bool {
    let Some((pt, _)) = line.strip_prefix("a=rtcp-fb:").and_then(|rest| rest.split_once(' ')) else { return false };
    // Found again for each line rather than once per section: lighter in the wasm, as measured (docs/SIZE.md), and
    // it is only the first line's length of work.
    let m_line = section.split('\n').next().unwrap_or_default();
    // `a=rtcp-fb:*` is for every payload type; the part before the first `m=` has no payload types of its own.
    m_line.starts_with("m=") && pt != "*" && m_line.split([' ', '\r']).all(|listed| listed != pt)
}

/// The payload type of an `a=rtpmap:<pt> opus/...` line.
fn opus_payload_type(line: &str) -> Option<&str> {
    let (pt, codec) = line.strip_prefix("a=rtpmap:")?.split_once(' ')?;
    codec.get(..5).filter(|name| name.eq_ignore_ascii_case("opus/")).map(|_| pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chrome's offer, shortened: Opus and RED audio, VP8 video.
    const CHROME: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
        a=mid:0\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
        a=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn chromes_opus_gets_dtx_and_keeps_its_other_parameters() {
        let munged = munge(CHROME);
        assert_eq!(munged, CHROME.replace("minptime=10;useinbandfec=1\r\n", "minptime=10;useinbandfec=1;usedtx=1\r\n"));
        // RED's parameters name Opus's payload type; they are not Opus's and stay.
        assert!(munged.contains("a=fmtp:63 111/111\r\n"));
        assert_eq!(munge(&munged), munged, "applying it twice changes nothing more");
    }

    #[test]
    fn values_that_say_off_are_turned_on() {
        let sdp = "m=audio 9 RTP 109\na=rtpmap:109 OPUS/48000/2\na=fmtp:109 usedtx=0; useinbandfec=0;stereo=1\n";
        assert_eq!(
            munge(sdp),
            "m=audio 9 RTP 109\na=rtpmap:109 OPUS/48000/2\na=fmtp:109 stereo=1;useinbandfec=1;usedtx=1\n"
        );
    }

    #[test]
    fn every_opus_payload_type_is_changed_to_the_last_line() {
        let sdp = "m=audio 9 RTP 111 112\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 \r\na=rtpmap:112 opus/48000/2\r\n\
            a=fmtp:112 x=1";
        assert_eq!(
            munge(sdp),
            "m=audio 9 RTP 111 112\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;usedtx=1\r\n\
             a=rtpmap:112 opus/48000/2\r\na=fmtp:112 x=1;useinbandfec=1;usedtx=1"
        );
        // A payload type without parameters is left to the browser's defaults (no browser writes one).
        assert_eq!(munge("a=rtpmap:111 opus/48000/2"), "a=rtpmap:111 opus/48000/2");
    }

    #[test]
    fn a_payload_type_is_opus_only_in_its_own_media_section() {
        // Without BUNDLE, video may use the number audio gives Opus: its parameters are not Opus's.
        let sdp = "m=audio 9 RTP 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n\
            m=video 9 RTP 111\r\na=rtpmap:111 VP9/90000\r\na=fmtp:111 profile-id=0\r\n";
        assert_eq!(
            munge(sdp),
            sdp.replace("minptime=10\r\n", "minptime=10;useinbandfec=1;usedtx=1\r\n"),
            "VP9's line changed too"
        );
    }

    #[test]
    fn rtx_payload_types_get_a_short_rtx_time_the_cameras_shorter() {
        let camera = "m=video 9 RTP 96 97 98\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
            a=rtpmap:98 rtx/90000\r\na=fmtp:98 apt=99;rtx-time=3000\r\n";
        let screen = "m=video 9 RTP 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n";
        // Chrome's audio section, then the camera's and the screen's.
        let audio = &CHROME[..CHROME.find("m=video").unwrap()];
        let munged = munge(&format!("{audio}{camera}{screen}"));
        let with = |rtx_time| format!("a=fmtp:97 apt=96;rtx-time={rtx_time}\r\n");
        let expected = format!(
            "{}{}{}",
            munge(audio),
            camera.replace("a=fmtp:97 apt=96\r\n", &with(CAMERA_RTX_TIME_MS)),
            screen.replace("a=fmtp:97 apt=96\r\n", &with(SCREEN_RTX_TIME_MS))
        );
        // One the author already chose is kept (`apt=99;rtx-time=3000`); so is every other line.
        assert_eq!(munged, expected);
        assert_eq!(munge(&munged), munged, "applying it twice changes nothing more");
    }

    #[test]
    fn video_keeps_vp8_baseline_h264_and_what_makes_it_resilient() {
        for (mime_type, fmtp) in [
            ("video/VP8", ""),
            ("video/rtx", ""),
            ("video/red", ""),
            ("video/ulpfec", ""),
            ("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
            ("video/h264", "profile-level-id=42e01f;packetization-mode=1"),
        ] {
            assert!(keep_video_codec(mime_type, fmtp), "{mime_type} {fmtp}");
        }
        for (mime_type, fmtp) in [
            ("video/VP9", "profile-id=0"),
            ("video/AV1", "level-idx=5;profile=0;tier=0"),
            ("video/H265", "level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST"),
            ("video/H264", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"),
            ("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640034"),
            ("video/flexfec-03", "repair-window=10000000"),
            ("audio/opus", "minptime=10;useinbandfec=1"),
            ("vp8", ""),
            ("", ""),
        ] {
            assert!(!keep_video_codec(mime_type, fmtp), "{mime_type} {fmtp}");
        }
    }

    #[test]
    fn feedback_lines_of_payload_types_the_section_does_not_list_go() {
        // Firefox's offer after `setCodecPreferences` kept VP8 (120) and its RTX (124): VP9's 121 keeps its
        // feedback lines, which Chromium refuses.
        let firefox = "m=video 9 UDP/TLS/RTP/SAVPF 120 124\r\na=mid:1\r\na=rtcp-fb:120 nack\r\na=rtcp-fb:121 nack\r\n\
            a=rtcp-fb:121 nack pli\r\na=rtcp-fb:* ccm fir\r\na=rtpmap:120 VP8/90000\r\na=rtpmap:124 rtx/90000\r\n\
            a=fmtp:124 apt=120\r\n";
        assert_eq!(
            munge(firefox),
            format!(
                "m=video 9 UDP/TLS/RTP/SAVPF 120 124\r\na=mid:1\r\na=rtcp-fb:120 nack\r\na=rtcp-fb:* ccm fir\r\n\
                 a=rtpmap:120 VP8/90000\r\na=rtpmap:124 rtx/90000\r\na=fmtp:124 apt=120;rtx-time={CAMERA_RTX_TIME_MS}\r\n"
            )
        );
        // A payload type is listed by number, not as the start of another (12 is not 120), last on its line too.
        let audio = "m=audio 9 RTP 120\na=rtcp-fb:12 nack\na=rtcp-fb:120 nack\n";
        assert_eq!(munge(audio), "m=audio 9 RTP 120\na=rtcp-fb:120 nack\n");
        assert_eq!(munge(&audio.replace('\n', "\r\n")), "m=audio 9 RTP 120\r\na=rtcp-fb:120 nack\r\n");
    }

    #[test]
    fn descriptions_without_opus_stay_as_they_are() {
        let video = "v=0\r\nm=video 9 RTP 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 max-fs=12288\r\n";
        assert_eq!(munge(video), video);
        assert_eq!(munge(""), "");
        assert_eq!(munge("a=rtpmap:\r\na=fmtp:\r\n"), "a=rtpmap:\r\na=fmtp:\r\n");
    }
}
