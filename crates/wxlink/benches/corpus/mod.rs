//! The corpus both history benchmarks share (`history`: wxlink against WeiLink on SQLite;
//! `stores`: SQLite against PostgreSQL): deterministic messages — sentences of mixed Chinese and
//! Latin words drawn with a Zipf-like distribution, ~1,000 users over 3 sessions, a year of
//! timestamps — the query shapes, and their timing.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use wxlink::model::{BackendKind, MessageStatus};
use wxlink::store::{Direction, HistoryQuery, LoginRecord, NewMessage, Store};

pub const DEFAULT_MESSAGES: usize = 1_000_000;
pub const BATCH: usize = 1_000;
pub const USERS: usize = 1_000;
pub const SESSIONS: [&str; 3] = ["work", "home", "support"];
/// Timed runs per shape unless `HISTORY_BENCH_ITERATIONS` says otherwise.
pub const ITERATIONS: usize = 200;

/// Timed runs per shape: `HISTORY_BENCH_ITERATIONS`, else [`ITERATIONS`].
pub fn iterations() -> usize {
    std::env::var("HISTORY_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(ITERATIONS)
}
pub const WARMUP: usize = 5;
/// 2025-01-01T00:00:00Z, ms.
pub const START_MS: i64 = 1_735_689_600_000;
pub const YEAR_MS: i64 = 365 * 24 * 3_600_000;
pub const DAY_MS: i64 = 24 * 3_600_000;

/// SplitMix64: small, fast, deterministic.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Index in `0..n` with P(k) ≈ 1/(k+1) (log-uniform): Zipf-like word ranks.
    pub fn zipf(&mut self, n: usize) -> usize {
        let x = ((n as f64 + 1.0).ln() * self.unit()).exp() as usize;
        x.saturating_sub(1).min(n - 1)
    }
    /// Skewed user activity: a few heavy users, a long tail.
    pub fn user(&mut self) -> usize {
        let u = self.unit();
        ((u * u) * USERS as f64) as usize % USERS
    }
}

/// Frequent real words first (so their Zipf rank is high), then a generated tail.
pub const ZH_HEAD: &[&str] = &[
    "我们",
    "你们",
    "今天",
    "明天",
    "下午",
    "上午",
    "晚上",
    "开会",
    "预算",
    "项目",
    "客户",
    "问题",
    "时间",
    "需要",
    "已经",
    "可以",
    "没有",
    "什么",
    "现在",
    "一下",
    "好的",
    "谢谢",
    "收到",
    "确认",
    "文件",
    "发送",
    "报告",
    "会议室",
    "项目经理",
    "下周一",
    "预算表",
    "客户反馈",
    "服务器",
    "数据库",
    "发布会",
    "周报",
    "合同",
    "发票",
    "报销",
    "出差",
    "机票",
    "酒店",
    "老板",
    "同事",
    "部门",
    "测试",
    "上线",
    "版本",
    "需求",
    "设计",
    "方案",
    "讨论",
    "安排",
    "计划",
    "进度",
    "延期",
    "提前",
    "完成",
    "负责",
    "跟进",
    "处理",
    "联系",
    "电话",
    "邮件",
    "微信",
    "群里",
    "消息",
    "通知",
    "提醒",
    "地址",
    "快递",
    "订单",
    "付款",
    "价格",
    "优惠",
    "活动",
    "周末",
    "吃饭",
    "午饭",
    "晚饭",
    "咖啡",
    "奶茶",
    "天气",
    "下雨",
    "堵车",
    "地铁",
    "打车",
    "到了",
    "马上",
    "稍等",
    "不好意思",
    "麻烦",
    "辛苦了",
    "没问题",
    "当然",
    "也许",
    "可能",
    "应该",
    "一定",
    "记得",
    "忘了",
    "照片",
    "视频",
    "语音",
    "链接",
    "二维码",
    "登录",
    "密码",
    "账号",
    "系统",
    "故障",
    "修复",
    "重启",
    "备份",
    "数据",
    "分析",
    "结果",
    "年度总结",
    "季度目标",
    "绩效考核",
    "人力资源",
    "财务部",
    "市场部",
    "销售额",
    "用户体验",
    "产品经理",
    "开发环境",
    "生产环境",
    "北京",
    "上海",
    "深圳",
    "杭州",
    "广州",
    "成都",
];
pub const ZH_CHARS: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";
pub const EN_HEAD: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "of",
    "is",
    "in",
    "for",
    "on",
    "it",
    "with",
    "we",
    "you",
    "this",
    "that",
    "be",
    "at",
    "please",
    "can",
    "will",
    "meeting",
    "budget",
    "project",
    "client",
    "deploy",
    "release",
    "invoice",
    "report",
    "review",
    "update",
    "schedule",
    "tomorrow",
    "today",
    "tonight",
    "morning",
    "afternoon",
    "friday",
    "monday",
    "server",
    "database",
    "backup",
    "login",
    "password",
    "account",
    "issue",
    "bug",
    "fix",
    "test",
    "build",
    "merge",
    "branch",
    "ticket",
    "deadline",
    "draft",
    "contract",
    "payment",
    "order",
    "delivery",
    "address",
    "price",
    "discount",
    "coffee",
    "lunch",
    "dinner",
    "weekend",
    "flight",
    "hotel",
    "taxi",
    "call",
    "email",
    "message",
    "photo",
    "video",
    "file",
    "link",
    "thanks",
    "sorry",
    "okay",
    "sure",
    "maybe",
    "later",
    "soon",
    "check",
    "send",
    "share",
    "sign",
    "approve",
    "confirm",
    "cancel",
    "move",
    "change",
    "plan",
    "team",
    "manager",
    "design",
    "feedback",
    "customer",
    "support",
    "sales",
    "marketing",
    "finance",
    "quarter",
    "target",
    "revenue",
    "cost",
    "estimate",
    "demo",
    "launch",
    "version",
    "feature",
    "request",
    "question",
    "answer",
    "agenda",
    "notes",
    "minutes",
    "slides",
    "document",
    "spreadsheet",
    "office",
    "room",
    "floor",
    "building",
    "parking",
    "station",
    "airport",
    "shanghai",
    "beijing",
    "shenzhen",
];
pub const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "ta", "ve", "zo", "pri", "stan", "gel", "mor", "din", "qua",
    "bel", "tor", "nix", "sha", "pel", "vor", "tri", "lan", "cos", "mer", "dal", "fen", "gra",
    "hul", "jin", "kel",
];
pub const TAIL_WORDS: usize = 2_000;

pub struct Vocabulary {
    pub zh: Vec<String>,
    pub en: Vec<String>,
}

impl Vocabulary {
    pub fn new() -> Self {
        let mut rng = Rng::new(7);
        let chars: Vec<char> = ZH_CHARS.chars().collect();
        let mut zh: Vec<String> = ZH_HEAD.iter().map(|s| s.to_string()).collect();
        while zh.len() < ZH_HEAD.len() + TAIL_WORDS {
            let len = 2 + rng.below(2);
            zh.push((0..len).map(|_| chars[rng.below(chars.len())]).collect());
        }
        let mut en: Vec<String> = EN_HEAD.iter().map(|s| s.to_string()).collect();
        while en.len() < EN_HEAD.len() + TAIL_WORDS {
            let len = 2 + rng.below(2);
            en.push(
                (0..len)
                    .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                    .collect(),
            );
        }
        Vocabulary { zh, en }
    }

    pub fn sentence(&self, rng: &mut Rng) -> String {
        let mut s = String::new();
        if rng.chance(0.65) {
            let words = 4 + rng.below(9);
            for i in 0..words {
                if rng.chance(0.15) {
                    s.push(' ');
                    s.push_str(&self.en[rng.zipf(self.en.len())]);
                    s.push(' ');
                } else {
                    s.push_str(&self.zh[rng.zipf(self.zh.len())]);
                }
                if i + 1 < words && rng.chance(0.12) {
                    s.push('，');
                }
            }
            s.push_str(["。", "？", "！", ""][rng.below(4)]);
        } else {
            let words = 5 + rng.below(10);
            for i in 0..words {
                let w = &self.en[rng.zipf(self.en.len())];
                if i == 0 {
                    let mut c = w.chars();
                    if let Some(f) = c.next() {
                        s.extend(f.to_uppercase());
                        s.push_str(c.as_str());
                    }
                } else {
                    s.push(' ');
                    s.push_str(w);
                }
            }
            s.push_str([".", "?", "!", ""][rng.below(4)]);
        }
        s.trim().to_owned()
    }
}

pub fn user_id(u: usize) -> String {
    format!("wxid_{u:04}@im.wechat")
}

pub fn bot_id(session: usize) -> String {
    format!("bot{session}@im.bot")
}

/// Kind, and WeiLink's msg_type for it.
pub fn kind(rng: &mut Rng) -> (&'static str, i64) {
    match rng.below(100) {
        0..80 => ("text", 1),
        80..88 => ("image", 2),
        88..93 => ("voice", 3),
        93..97 => ("file", 4),
        _ => ("video", 5),
    }
}

/// Batch `b` of the corpus: one session, `BATCH` messages in time order. Deterministic.
pub fn batch(vocab: &Vocabulary, b: usize, total: usize) -> (usize, Vec<NewMessage>) {
    let session = b % SESSIONS.len();
    let mut rng = Rng::new(b as u64 + 1);
    let step = YEAR_MS / total as i64;
    let messages = (0..BATCH)
        .map(|j| {
            let i = b * BATCH + j;
            // A user belongs to one session.
            let user = loop {
                let u = rng.user();
                if u % SESSIONS.len() == session {
                    break u;
                }
            };
            let peer = user_id(user);
            let direction = if rng.chance(0.6) {
                Direction::In
            } else {
                Direction::Out
            };
            let (kind, msg_type) = kind(&mut rng);
            let text = match kind {
                "text" | "voice" => Some(vocab.sentence(&mut rng)),
                "file" => Some(format!(
                    "{}_{}.pdf",
                    vocab.zh[rng.zipf(vocab.zh.len())],
                    2024 + rng.below(2)
                )),
                _ => None,
            };
            let created_at = START_MS + i as i64 * step + rng.below(step.max(1) as usize) as i64;
            let upstream = 7_000_000_000_000_000_000u64 + i as u64;
            let token = format!("AARzJWAF{:032x}", rng.next_u64() as u128 * 31 + i as u128);
            let item = json!({ "type": msg_type, "text_item": { "text": text } });
            let raw = json!({
                "seq": i, "message_id": upstream, "from_user_id": peer,
                "to_user_id": bot_id(session), "client_id": format!("wx-{i}"),
                "create_time_ms": created_at, "message_type": direction.code(),
                "message_state": 2, "context_token": token, "item_list": [item],
            });
            let inbound = direction == Direction::In;
            NewMessage {
                session: SESSIONS[session].to_owned(),
                direction,
                upstream_id: inbound.then(|| upstream.to_string()),
                dedupe_key: if inbound {
                    upstream.to_string()
                } else {
                    format!("wx-{i}")
                },
                peer,
                bot_id: Some(bot_id(session)),
                kind: kind.to_owned(),
                text,
                items: json!([{ "type": kind, "text": raw["item_list"][0]["text_item"]["text"] }])
                    .into(),
                raw: Some(raw),
                context_token: Some(token.into()),
                created_at_ms: created_at,
                client_id: (!inbound).then(|| format!("wx-{i}")),
                status: if inbound {
                    MessageStatus::Received
                } else {
                    MessageStatus::Sent
                },
                error: None,
                speaker: None,
            }
        })
        .collect();
    (session, messages)
}

pub fn msg_type_of(kind: &str) -> i64 {
    match kind {
        "text" => 1,
        "image" => 2,
        "voice" => 3,
        "file" => 4,
        _ => 5,
    }
}

/// One query shape, in both systems' terms.
pub struct Case {
    pub label: &'static str,
    pub user: Option<String>,
    pub session: Option<usize>,
    pub range: Option<(i64, i64)>,
    pub text: Option<String>,
    pub direction: Option<Direction>,
    pub kind: Option<&'static str>,
}

impl Case {
    pub fn new(label: &'static str) -> Self {
        Case {
            label,
            user: None,
            session: None,
            range: None,
            text: None,
            direction: None,
            kind: None,
        }
    }

    /// The query for wxlink's store; `count_up_to` as `HistoryQuery`'s.
    pub fn wxlink_query(&self, count_up_to: Option<u64>) -> HistoryQuery {
        HistoryQuery {
            user: self.user.clone(),
            session: self.session.map(|s| SESSIONS[s].to_owned()),
            kind: self.kind.map(str::to_owned),
            direction: self.direction,
            since_ms: self.range.map(|r| r.0),
            until_ms: self.range.map(|r| r.1),
            text: self.text.clone(),
            limit: 50,
            offset: 0,
            before_id: None,
            after_id: None,
            count_up_to,
        }
    }
}

/// The cases of one shape for iteration `i` (rotating over a few words / users).
pub fn case_for(shape: usize, i: usize, rng: &mut Rng) -> Case {
    const ZH3: &[&str] = &[
        "会议室",
        "项目经理",
        "下周一",
        "预算表",
        "客户反馈",
        "服务器",
    ];
    const ZH3_RARE: &[&str] = &["年度总结", "季度目标", "绩效考核", "用户体验", "开发环境"];
    const EN: &[&str] = &[
        "meeting", "invoice", "deploy", "schedule", "review", "database",
    ];
    const EN_RARE: &[&str] = &["document", "spreadsheet", "parking", "station", "airport"];
    const ZH2: &[&str] = &["预算", "开会", "合同", "发票", "报销"];
    let pick = |list: &[&str]| list[i % list.len()].to_owned();
    match shape {
        0 => Case {
            text: Some(pick(ZH3)),
            ..Case::new("text: Chinese 3-4 chars (common)")
        },
        1 => Case {
            text: Some(pick(ZH3_RARE)),
            ..Case::new("text: Chinese 4 chars (rarer)")
        },
        2 => Case {
            text: Some(pick(EN)),
            ..Case::new("text: Latin word (common)")
        },
        3 => Case {
            text: Some(pick(EN_RARE)),
            ..Case::new("text: Latin word (rarer)")
        },
        4 => Case {
            text: Some(pick(ZH2)),
            ..Case::new("text: Chinese 2 chars (scan)")
        },
        5 => Case {
            user: Some(user_id(rng.user())),
            ..Case::new("user")
        },
        6 => Case {
            user: Some(user_id(rng.user())),
            text: Some(pick(if i.is_multiple_of(2) { EN } else { ZH3 })),
            ..Case::new("user + text")
        },
        7 => {
            let since = START_MS + rng.below(335) as i64 * DAY_MS;
            Case {
                session: Some(i % SESSIONS.len()),
                range: Some((since, since + 30 * DAY_MS)),
                text: Some(pick(ZH3)),
                ..Case::new("session + 30 days + text")
            }
        }
        8 => {
            let (direction, kind) = [
                (Direction::In, "text"),
                (Direction::Out, "image"),
                (Direction::In, "file"),
            ][i % 3];
            Case {
                direction: Some(direction),
                kind: Some(kind),
                ..Case::new("direction + kind")
            }
        }
        9 => Case {
            session: Some(i % SESSIONS.len()),
            text: Some(pick(if i.is_multiple_of(2) { EN } else { ZH3 })),
            ..Case::new("session + text")
        },
        _ => {
            // A week from any millisecond, as "the last 7 days" asks: both edge days cut.
            let since = START_MS + rng.below(358 * DAY_MS as usize) as i64;
            Case {
                range: Some((since, since + 7 * DAY_MS)),
                text: Some(pick(if i.is_multiple_of(2) { EN } else { ZH3 })),
                ..Case::new("7 days + text")
            }
        }
    }
}
pub const SHAPES: usize = 11;

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1e3
}

pub struct Timing {
    pub p50: f64,
    pub p99: f64,
    pub mean_total: f64,
}

pub fn time<F: FnMut(&Case) -> u64>(shape: usize, run: F) -> Timing {
    time_warm(shape, false, run)
}

/// [`time`]; with `warm`, first runs the very cases it times once untimed, so that a figure
/// does not depend on which store, or which way of counting, read the pages first (a 10 M
/// message store does not stay in the page cache).
pub fn time_warm<F: FnMut(&Case) -> u64>(shape: usize, warm: bool, mut run: F) -> Timing {
    let mut rng = Rng::new(1_000 + shape as u64);
    for i in 0..WARMUP {
        run(&case_for(shape, i, &mut rng));
    }
    if warm {
        let mut rng = Rng::new(2_000 + shape as u64);
        for i in 0..iterations() {
            run(&case_for(shape, i, &mut rng));
        }
    }
    let mut rng = Rng::new(2_000 + shape as u64);
    let iterations = iterations();
    let mut samples = Vec::with_capacity(iterations);
    let mut totals = 0u64;
    for i in 0..iterations {
        let case = case_for(shape, i, &mut rng);
        let started = Instant::now();
        totals += run(&case);
        samples.push(started.elapsed());
    }
    samples.sort();
    Timing {
        p50: percentile(&samples, 0.50),
        p99: percentile(&samples, 0.99),
        mean_total: totals as f64 / iterations as f64,
    }
}

pub fn file_size(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            let mut p = path.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

/// Logs the corpus's sessions in and ingests it into `store` in its batches (`Store::ingest`:
/// messages, cursor and contexts in one transaction each); returns the time spent ingesting.
pub async fn ingest_corpus(
    store: &dyn Store,
    vocab: &Vocabulary,
    batches: usize,
    total: usize,
) -> Duration {
    for (s, name) in SESSIONS.iter().enumerate() {
        store
            .save_login(
                name,
                &LoginRecord {
                    backend: BackendKind::Ilink,
                    bot_id: bot_id(s),
                    user_id: None,
                    token: format!("token-{s}").into(),
                    base_url: None,
                },
            )
            .await
            .expect("save_login");
    }
    let mut took = Duration::ZERO;
    for b in 0..batches {
        let (session, messages) = batch(vocab, b, total);
        let started = Instant::now();
        store
            .ingest(SESSIONS[session], messages, &format!("cursor-{b}"))
            .await
            .expect("ingest");
        took += started.elapsed();
        if (b + 1) % 200 == 0 {
            eprintln!("  {} messages", (b + 1) * BATCH);
        }
    }
    took
}
