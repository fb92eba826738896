//! An in-memory Redis Cluster for the router's tests.

use super::*;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;

/// An in-memory cluster of `n` nodes: each owns the slots the test says, keeps its keys,
/// and answers as Redis does (`MOVED` for slots it does not own, `ASK` while migrating).
pub(super) struct FakeCluster {
    pub(super) owner: Vec<usize>,
    /// Slots a node is migrating away: (slot, to node). Keys not there any more get `ASK`.
    pub(super) migrating: Vec<(u16, usize)>,
    pub(super) data: Vec<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Commands each node received, as text.
    pub(super) log: Vec<Vec<String>>,
    /// Replies to give instead, once each, by command name.
    pub(super) scripted: Vec<(usize, &'static str, &'static [u8])>,
}

impl FakeCluster {
    pub(super) fn new(nodes: usize) -> Self {
        Self {
            owner: (0..HashSlot::COUNT as usize)
                .map(|s| s * nodes / HashSlot::COUNT as usize)
                .collect(),
            migrating: Vec::new(),
            data: vec![BTreeMap::new(); nodes],
            log: vec![Vec::new(); nodes],
            scripted: Vec::new(),
        }
    }

    pub(super) fn map(&self) -> SlotMap {
        let mut map = SlotMap::new();
        for (slot, &node) in self.owner.iter().enumerate() {
            map.moved(HashSlot::new(slot as u16).unwrap(), self.node(node), None);
        }
        map
    }

    pub(super) fn node(&self, i: usize) -> Node {
        Node {
            host: "127.0.0.1".into(),
            port: 7000 + i as u16,
        }
    }

    pub(super) fn reply(
        &mut self,
        node: usize,
        words: &[&[u8]],
        asking: bool,
        tx: &mut Option<Vec<Vec<Vec<u8>>>>,
    ) -> Vec<u8> {
        let name = String::from_utf8_lossy(words[0]).to_uppercase();
        self.log[node].push(
            words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        );
        if let Some(at) = self
            .scripted
            .iter()
            .position(|(n, c, _)| *n == node && *c == name)
        {
            return self.scripted.remove(at).2.to_vec();
        }
        match name.as_str() {
            "ASKING" => return b"+OK\r\n".to_vec(),
            "MULTI" => {
                *tx = Some(Vec::new());
                return b"+OK\r\n".to_vec();
            }
            "EXEC" => {
                let queued = tx.take().unwrap_or_default();
                let mut out = format!("*{}\r\n", queued.len()).into_bytes();
                for q in queued {
                    let words: Vec<&[u8]> = q.iter().map(Vec::as_slice).collect();
                    out.extend(self.run(node, &words));
                }
                return out;
            }
            _ => {}
        }
        let keys: Vec<usize> = KeySpec::of(words[0]).positions(words).collect();
        if let Some(&k) = keys.first() {
            let slot = HashSlot::for_key(words[k]).get();
            let owner = self.owner[usize::from(slot)];
            let importing = asking
                && self
                    .migrating
                    .iter()
                    .any(|&(s, to)| s == slot && to == node);
            if owner != node && !importing {
                return format!("-MOVED {slot} {}\r\n", self.node(owner)).into_bytes();
            }
            if let Some(&(_, to)) = self.migrating.iter().find(|(s, _)| *s == slot)
                && owner == node
                && !self.data[node].contains_key(words[k])
            {
                return format!("-ASK {slot} {}\r\n", self.node(to)).into_bytes();
            }
        }
        if let Some(queued) = tx {
            queued.push(words.iter().map(|w| w.to_vec()).collect());
            return b"+QUEUED\r\n".to_vec();
        }
        self.run(node, words)
    }

    pub(super) fn run(&mut self, node: usize, words: &[&[u8]]) -> Vec<u8> {
        let bulk = |v: Option<&Vec<u8>>| match v {
            Some(v) => {
                let mut out = format!("${}\r\n", v.len()).into_bytes();
                out.extend_from_slice(v);
                out.extend_from_slice(b"\r\n");
                out
            }
            None => b"$-1\r\n".to_vec(),
        };
        let data = &mut self.data[node];
        match String::from_utf8_lossy(words[0]).to_uppercase().as_str() {
            "SET" => {
                data.insert(words[1].to_vec(), words[2].to_vec());
                b"+OK\r\n".to_vec()
            }
            "MSET" => {
                for kv in words[1..].chunks(2) {
                    data.insert(kv[0].to_vec(), kv[1].to_vec());
                }
                b"+OK\r\n".to_vec()
            }
            "GET" => bulk(data.get(words[1])),
            "MGET" => {
                let mut out = format!("*{}\r\n", words.len() - 1).into_bytes();
                for k in &words[1..] {
                    out.extend(bulk(data.get(*k)));
                }
                out
            }
            "DEL" => {
                let n = words[1..]
                    .iter()
                    .filter(|k| data.remove(**k).is_some())
                    .count();
                format!(":{n}\r\n").into_bytes()
            }
            "INCR" => {
                let v = data
                    .get(words[1])
                    .and_then(|v| core::str::from_utf8(v).ok()?.parse::<i64>().ok())
                    .unwrap_or(0)
                    + 1;
                data.insert(words[1].to_vec(), format!("{v}").into_bytes());
                format!(":{v}\r\n").into_bytes()
            }
            "PING" => b"+PONG\r\n".to_vec(),
            "DBSIZE" => format!(":{}\r\n", data.len()).into_bytes(),
            "KEYS" => {
                let mut out = format!("*{}\r\n", data.len()).into_bytes();
                for k in data.keys() {
                    out.extend(bulk(Some(k)));
                }
                out
            }
            "FLUSHDB" => {
                data.clear();
                b"+OK\r\n".to_vec()
            }
            "SCAN" => {
                // The cursor counts the keys already returned, in key order.
                let from: usize = String::from_utf8_lossy(words[1]).parse().unwrap();
                let count = words
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case(b"COUNT"))
                    .map_or(10, |i| {
                        String::from_utf8_lossy(words[i + 1]).parse().unwrap()
                    });
                let page: Vec<&Vec<u8>> = data.keys().skip(from).take(count).collect();
                let next = if from + page.len() >= data.len() {
                    0
                } else {
                    from + page.len()
                };
                let next = format!("{next}");
                let mut out =
                    format!("*2\r\n${}\r\n{next}\r\n*{}\r\n", next.len(), page.len()).into_bytes();
                for k in page {
                    out.extend(bulk(Some(k)));
                }
                out
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        }
    }

    /// Runs one round: every batch on its node, as a transport would.
    pub(super) fn serve(&mut self, run: &mut ClusterRun, map: &SlotMap) {
        for batch in run.batches_mut() {
            let replies = self.answer(batch, map);
            batch.pipeline_mut().handle_input(&replies).unwrap();
        }
    }

    /// Takes what `batch` has to send and returns its node's replies, in order.
    pub(super) fn answer(&mut self, batch: &mut Batch, map: &SlotMap) -> Vec<u8> {
        let node = usize::from(map.node(batch.node()).port - 7000);
        let p = batch.pipeline_mut();
        let out = p.poll_output().to_vec();
        p.consume_output(out.len());
        let mut replies = Vec::new();
        let mut at = 0;
        let mut asking = false;
        let mut tx = None;
        while at < out.len() {
            let n = Scanner::new()
                .scan(&out[at..], &Limits::default())
                .unwrap()
                .unwrap();
            let w = words(&out[at..at + n]).unwrap();
            let reply = self.reply(node, &w, asking, &mut tx);
            asking = w[0].eq_ignore_ascii_case(b"ASKING");
            replies.extend(reply);
            at += n;
        }
        replies
    }

    /// Runs `p` to completion; the number of rounds.
    pub(super) fn execute(&mut self, p: &mut VecPipeline, map: &mut SlotMap) -> usize {
        let mut run = ClusterRun::new();
        let mut rounds = 0;
        while run.next_round(p, map) {
            rounds += 1;
            self.serve(&mut run, map);
            run.absorb(p, map);
            assert!(rounds < 50, "no progress");
        }
        assert!(p.is_done());
        rounds
    }
}
