//! `--soak MINUTES`: mixed reads and workflows through the gateway at half the capacity
//! measured first, for that long, reporting each minute's calls, errors by code, p50 and p99,
//! and the system's resident memory, so that a slow leak or a latency creep shows. Calls are
//! started at a fixed rate (open loop, as real clients do), not one after another, so a slower
//! server is not hidden by fewer calls.

use crate::dev::{Dev, Error};
use crate::load::{self, Call, Shape};
use crate::setup::{self, Fixtures};
use crate::{create_customer, get_tenant, measure};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most calls under way at once: past it, a tick starts nothing and counts as shed (a
/// server that can't keep up shows as errors, not as an ever-growing queue in the bench).
const MAX_IN_FLIGHT: usize = 2048;

/// One in ten a CreateCustomer (three services, a dozen writes), the rest reads: GetTenant as a
/// partner's admin and, through delegated admin, as its agent.
fn mix(fixtures: &Arc<Fixtures>, run: &str) -> Call {
    let own = get_tenant(&fixtures.provider.id, Some(&fixtures.provider_admin));
    let delegated = get_tenant(&fixtures.customer.id, Some(&fixtures.agent));
    let workflow = create_customer(fixtures, run);
    Arc::new(move |channel, n| match n % 10 {
        0 => workflow(channel, n),
        1..=3 => delegated(channel, n),
        _ => own(channel, n),
    })
}

/// What one minute saw.
#[derive(Default)]
struct Minute {
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
    shed: u64,
}

impl Minute {
    fn percentile(&mut self, q: f64) -> f64 {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        self.latencies
            .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

pub async fn soak(
    binary: &std::path::Path,
    database_url: Option<&str>,
    minutes: u64,
) -> Result<(), Error> {
    let dev = Dev::start(binary, database_url)?;
    let result = run(&dev, minutes).await;
    let log = dev.log_tail(20);
    dev.stop().await;
    result.map_err(|e| format!("{e}\nthe last lines partnerhub dev logged:\n{log}").into())
}

async fn run(dev: &Dev, minutes: u64) -> Result<(), Error> {
    eprintln!("fixtures through the public API");
    let fixtures = Arc::new(setup::make(dev).await?);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let call = mix(&fixtures, &run);

    eprintln!("capacity: the mix at c4 m16 for 10 s");
    let capacity = load::run(
        dev.gateway,
        Shape::new(4, 16),
        Duration::from_secs(2),
        Duration::from_secs(10),
        call.clone(),
    )
    .await?;
    let rate = (capacity.per_second() / 2.0).max(1.0);
    println!(
        "capacity {:.0} calls/s ({} errors); soaking at {rate:.0} calls/s for {minutes} min",
        capacity.per_second(),
        capacity.errors
    );

    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(load::connect(dev.gateway).await?);
    }
    let (done, mut results) =
        tokio::sync::mpsc::unbounded_channel::<(u64, Duration, Option<String>)>();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let start = Instant::now();
    let end = start + Duration::from_secs(minutes * 60);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut table: BTreeMap<u64, Minute> = BTreeMap::new();
    let mut rss = Vec::new();
    let mut printed = 0u64;
    println!("minute  calls  calls/s  errors  p50 ms  p99 ms  RSS MiB");
    let mut n = 1_000_000_000u64;
    loop {
        tokio::select! {
            _ = ticker.tick(), if Instant::now() < end => {
                n += 1;
                let minute = start.elapsed().as_secs() / 60;
                let Ok(slot) = in_flight.clone().try_acquire_owned() else {
                    table.entry(minute).or_default().shed += 1;
                    continue;
                };
                let (call, channel, done) = (call.clone(), channels[(n % 4) as usize].clone(), done.clone());
                tokio::spawn(async move {
                    let began = Instant::now();
                    let answer = call(channel, n).await;
                    let _ = done.send((minute, began.elapsed(), answer.err().map(|s| format!("{:?}", s.code()))));
                    drop(slot);
                });
            }
            Some((minute, took, error)) = results.recv() => {
                let m = table.entry(minute).or_default();
                m.latencies.push(took);
                if let Some(code) = error {
                    *m.errors.entry(code).or_default() += 1;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        // A minute is printed once the next one has run for 10 s (its last calls are in).
        let now_minute = start.elapsed().as_secs() / 60;
        let settled = start.elapsed().as_secs() % 60 >= 10 || Instant::now() >= end;
        while printed < now_minute && settled {
            rss.push(measure::memory(dev.pid()).rss_mib);
            print_minute(printed, table.get_mut(&printed), rss[rss.len() - 1]);
            printed += 1;
        }
        if Instant::now() >= end + Duration::from_secs(10) {
            break;
        }
    }
    while printed < minutes {
        rss.push(measure::memory(dev.pid()).rss_mib);
        print_minute(printed, table.get_mut(&printed), rss[rss.len() - 1]);
        printed += 1;
    }
    summarize(&mut table, minutes, &rss);
    Ok(())
}

fn print_minute(minute: u64, m: Option<&mut Minute>, rss: f64) {
    let Some(m) = m else {
        println!("{:>6}  no calls", minute + 1);
        return;
    };
    let errors: u64 = m.errors.values().sum::<u64>() + m.shed;
    let (p50, p99) = (m.percentile(0.5), m.percentile(0.99));
    let mut codes: Vec<String> = m.errors.iter().map(|(c, n)| format!("{c} {n}")).collect();
    if m.shed > 0 {
        codes.push(format!("shed {}", m.shed));
    }
    println!(
        "{:>6}  {:>5}  {:>7.0}  {:>6}  {:>6.2}  {:>6.2}  {:>7.1}{}",
        minute + 1,
        m.latencies.len(),
        m.latencies.len() as f64 / 60.0,
        errors,
        p50,
        p99,
        rss,
        if codes.is_empty() {
            String::new()
        } else {
            format!("  ({})", codes.join(", "))
        }
    );
}

fn summarize(table: &mut BTreeMap<u64, Minute>, minutes: u64, rss: &[f64]) {
    let errors: u64 = table
        .values()
        .map(|m| m.errors.values().sum::<u64>() + m.shed)
        .sum();
    let calls: usize = table.values().map(|m| m.latencies.len()).sum();
    let p99s: Vec<f64> = (0..minutes)
        .filter_map(|i| table.get_mut(&i).map(|m| m.percentile(0.99)))
        .collect();
    let (first, last) = (
        p99s.first().copied().unwrap_or(0.0),
        p99s.last().copied().unwrap_or(0.0),
    );
    let (rss_first, rss_last) = (
        rss.first().copied().unwrap_or(0.0),
        rss.last().copied().unwrap_or(0.0),
    );
    println!(
        "{calls} calls, {errors} errors; p99 first minute {first:.2} ms, last {last:.2} ms; \
         RSS after the first minute {rss_first:.1} MiB, after the last {rss_last:.1} MiB"
    );
}
