//! Packet forwarding: each subscriber's copy of a track is one continuous
//! RTP stream, whatever lies behind it (layer switches, pauses, a muted
//! microphone).
//!
//! Why: the SFU forwards the publisher's RTP packets as they are (str0m's RTP
//! mode), sharing each payload between all subscribers, instead of
//! reassembling every frame and cutting it up again per subscriber. But the
//! layers of a simulcast video are three independent streams, each with its
//! own sequence numbers, timestamps and VP8 picture ids. A receiver that saw
//! those jump would NACK phantom gaps, or drop the new layer's frames as
//! older than what it decoded. So every copy rewrites them:
//!
//! - sequence numbers: output = input + offset within a *segment* (a run of
//!   one layer); a new segment starts right after the last output. Within a
//!   segment every packet is forwarded, so a packet repaired late upstream
//!   (RTX) lands in its right place; packets older than the segment's first
//!   are dropped (they belong to what the receiver no longer gets);
//! - timestamps: [`crate::layer::TsRewriter`], per frame;
//! - VP8 picture id (15 or 7 bits) and TL0PICIDX: like sequence numbers, per
//!   frame, modulo their width; str0m patches them into the outgoing packet
//!   (`Vp8Patch`), so the shared payload is never copied by us.

/// The VP8 payload descriptor fields the forwarder reads (RFC 7741, 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vp8Info {
    /// Start of partition 0 (S set, PID 0): the first packet of a frame.
    pub frame_start: bool,
    /// The first packet of a keyframe.
    pub keyframe: bool,
    /// Picture id and whether it is the 15-bit form.
    pub picture_id: Option<(u16, bool)>,
    pub tl0_pic_idx: Option<u8>,
}

/// Reads a VP8 payload descriptor; `None` when it is truncated.
pub fn parse_vp8(payload: &[u8]) -> Option<Vp8Info> {
    // A cursor over the descriptor: each field is split off the front.
    let (&b0, mut rest) = payload.split_first()?;
    let mut info = Vp8Info {
        frame_start: b0 & 0x10 != 0 && b0 & 0x07 == 0,
        ..Vp8Info::default()
    };
    if b0 & 0x80 != 0 {
        let (&x, r) = rest.split_first()?;
        rest = r;
        if x & 0x80 != 0 {
            let (&m, r) = rest.split_first()?;
            rest = r;
            if m & 0x80 != 0 {
                let (&low, r) = rest.split_first()?;
                rest = r;
                info.picture_id = Some(((u16::from(m & 0x7f) << 8) | u16::from(low), true));
            } else {
                info.picture_id = Some((u16::from(m), false));
            }
        }
        if x & 0x40 != 0 {
            let (&tl0, r) = rest.split_first()?;
            rest = r;
            info.tl0_pic_idx = Some(tl0);
        }
        if x & 0x30 != 0 {
            rest = rest.get(1..).unwrap_or_default();
        }
    }
    // VP8 payload header: P (inverse key frame flag) is bit 0.
    info.keyframe = info.frame_start && rest.first().is_some_and(|h| h & 0x01 == 0);
    Some(info)
}

/// First output sequence number of a copy: low, so the first packet has a
/// zero rollover counter (which the receiver assumes).
const FIRST_SEQ: u64 = 1000;

/// One copy's continuous numbering (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Renumber {
    seq_offset: u64,
    last_seq: Option<u64>,
    segment_start: u64,
    /// Picture id: offset, last output, and the last input frame's id.
    pid_offset: u16,
    last_pid: Option<u16>,
    tl0_offset: u8,
    last_tl0: Option<u8>,
    /// A new segment starts at the next forwarded packet.
    pending: bool,
}

/// What one forwarded packet becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renumbered {
    pub seq: u64,
    pub picture_id: Option<u16>,
    pub tl0_pic_idx: Option<u8>,
}

impl Renumber {
    pub fn new() -> Self {
        Renumber {
            pending: true,
            ..Renumber::default()
        }
    }

    /// The next forwarded packet starts a new segment (a layer switch, or
    /// forwarding resumes after packets were not sent).
    pub fn restart(&mut self) {
        self.pending = true;
    }

    /// Numbers a forwarded packet with input sequence `seq` and VP8 fields;
    /// `None` when it is older than the current segment (drop it).
    pub fn map(&mut self, seq: u64, vp8: Option<&Vp8Info>) -> Option<Renumbered> {
        if self.pending {
            self.pending = false;
            let next = self.last_seq.map_or(FIRST_SEQ, |l| l.wrapping_add(1));
            self.seq_offset = next.wrapping_sub(seq);
            self.segment_start = seq;
            if let Some((pid, wide)) = vp8.and_then(|v| v.picture_id) {
                let next = self.last_pid.map_or(pid, |l| l.wrapping_add(1) & pid_mask(wide));
                self.pid_offset = next.wrapping_sub(pid);
            }
            if let Some(tl0) = vp8.and_then(|v| v.tl0_pic_idx) {
                let next = self.last_tl0.map_or(tl0, |l| l.wrapping_add(1));
                self.tl0_offset = next.wrapping_sub(tl0);
            }
        }
        if seq < self.segment_start {
            return None;
        }
        let out = seq.wrapping_add(self.seq_offset);
        // A packet repaired late belongs to an older frame: the next segment
        // follows the newest one.
        let newest = self.last_seq.is_none_or(|l| out >= l);
        self.last_seq = Some(self.last_seq.map_or(out, |l| l.max(out)));
        let picture_id = vp8.and_then(|v| v.picture_id).map(|(pid, wide)| {
            let out = pid.wrapping_add(self.pid_offset) & pid_mask(wide);
            if newest {
                self.last_pid = Some(out);
            }
            out
        });
        let tl0_pic_idx = vp8.and_then(|v| v.tl0_pic_idx).map(|tl0| {
            let out = tl0.wrapping_add(self.tl0_offset);
            if newest {
                self.last_tl0 = Some(out);
            }
            out
        });
        Some(Renumbered {
            seq: out,
            picture_id,
            tl0_pic_idx,
        })
    }
}

fn pid_mask(wide: bool) -> u16 {
    if wide {
        0x7fff
    } else {
        0x7f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VP8 payload: descriptor with a 15-bit picture id and TL0PICIDX, then
    /// one byte of VP8 payload header.
    fn vp8(start: bool, key: bool, pid: u16, tl0: u8) -> Vec<u8> {
        let b0 = 0x80 | if start { 0x10 } else { 0 };
        vec![
            b0,
            0xc0,
            0x80 | (pid >> 8) as u8,
            pid as u8,
            tl0,
            if key { 0x00 } else { 0x01 },
        ]
    }

    #[test]
    fn descriptors_are_read() {
        let i = parse_vp8(&vp8(true, true, 0x1234, 7)).unwrap();
        assert_eq!(
            i,
            Vp8Info {
                frame_start: true,
                keyframe: true,
                picture_id: Some((0x1234, true)),
                tl0_pic_idx: Some(7)
            }
        );
        let i = parse_vp8(&vp8(false, false, 5, 1)).unwrap();
        assert!(!i.frame_start && !i.keyframe);
        // 7-bit picture id, no extensions beyond it.
        let i = parse_vp8(&[0x90, 0x80, 0x05, 0x00]).unwrap();
        assert_eq!(i.picture_id, Some((5, false)));
        assert!(i.keyframe);
        // No extension at all, delta frame.
        assert!(!parse_vp8(&[0x10, 0x01]).unwrap().keyframe);
        // Truncated descriptors are refused, never read past the end.
        for cut in [&[][..], &[0x80], &[0x80, 0x80], &[0x80, 0x80, 0x80], &[0x80, 0x40]] {
            assert_eq!(parse_vp8(cut), None, "{cut:?}");
        }
    }

    /// Feeds `n` packets of frames of `per_frame` packets from one layer,
    /// returning the outputs.
    fn run(r: &mut Renumber, seq0: u64, pid0: u16, tl0: u8, frames: u16, per_frame: u64) -> Vec<Renumbered> {
        let mut out = Vec::new();
        for f in 0..frames {
            for p in 0..per_frame {
                let payload = vp8(p == 0, f == 0 && p == 0, (pid0 + f) & 0x7fff, tl0.wrapping_add(f as u8));
                let info = parse_vp8(&payload).unwrap();
                out.extend(r.map(seq0 + u64::from(f) * per_frame + p, Some(&info)));
            }
        }
        out
    }

    fn assert_continuous(all: &[Renumbered]) {
        for w in all.windows(2) {
            assert_eq!(w[1].seq, w[0].seq + 1, "sequence continuous: {w:?}");
            let (a, b) = (w[0].picture_id.unwrap(), w[1].picture_id.unwrap());
            assert!(b == a || b == (a + 1) & 0x7fff, "picture id continuous: {w:?}");
            let (a, b) = (w[0].tl0_pic_idx.unwrap(), w[1].tl0_pic_idx.unwrap());
            assert!(b == a || b == a.wrapping_add(1), "tl0picidx continuous: {w:?}");
        }
    }

    #[test]
    fn continuous_across_q_h_pause_q() {
        let mut r = Renumber::new();
        let mut all = run(&mut r, 40_000, 100, 3, 10, 2); // q
        r.restart(); // switch to h at its keyframe
        all.extend(run(&mut r, 7, 32_700, 250, 10, 5)); // h: picture ids and tl0 wrap
                                                        // Paused: nothing forwarded; then q again at a keyframe.
        r.restart();
        all.extend(run(&mut r, 40_100, 150, 13, 10, 2));
        assert_eq!(all[0].seq, FIRST_SEQ);
        assert_continuous(&all);
    }

    #[test]
    fn a_late_packet_of_the_segment_lands_in_place_older_ones_are_dropped() {
        let mut r = Renumber::new();
        let k = parse_vp8(&vp8(true, true, 1, 0)).unwrap();
        let d = parse_vp8(&vp8(false, false, 1, 0)).unwrap();
        assert_eq!(r.map(500, Some(&k)).unwrap().seq, FIRST_SEQ);
        // 501 lost upstream, 502 arrives, then 501 repaired.
        assert_eq!(r.map(502, Some(&d)).unwrap().seq, FIRST_SEQ + 2);
        assert_eq!(r.map(501, Some(&d)).unwrap().seq, FIRST_SEQ + 1);
        r.restart();
        assert_eq!(r.map(9000, Some(&k)).unwrap().seq, FIRST_SEQ + 3);
        // A straggler from before the switch point of this layer.
        assert_eq!(r.map(8999, Some(&d)), None);
    }

    #[test]
    fn audio_has_no_vp8_fields() {
        let mut r = Renumber::new();
        assert_eq!(
            r.map(10, None),
            Some(Renumbered {
                seq: FIRST_SEQ,
                picture_id: None,
                tl0_pic_idx: None
            })
        );
        assert_eq!(r.map(11, None).unwrap().seq, FIRST_SEQ + 1);
        // Muted for a while: forwarding resumes right after the last output.
        r.restart();
        assert_eq!(r.map(500, None).unwrap().seq, FIRST_SEQ + 2);
    }
}
