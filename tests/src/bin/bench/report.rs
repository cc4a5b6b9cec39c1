//! The benchmark's results as a Markdown table and an SVG chart.

use serde_json::Value;

fn num(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

fn ratio(peer: f64, ours: f64) -> String {
    if ours <= 0.0 {
        return "n/a".into();
    }
    format!("{:.1}x", peer / ours)
}

fn mib(kib: f64) -> String {
    format!("{:.1}", kib / 1024.0)
}

fn verdict_line(verdicts: &Value) -> String {
    let get = |name: &str| verdicts[name].as_u64().unwrap_or(0);
    format!(
        "{} fixed, {} missed, {} over-fixed, {} wrongly changed",
        get("fixed"),
        get("missed"),
        get("over-fixed"),
        get("wrongly changed")
    )
}

fn operations(calls: &Value) -> String {
    calls
        .as_object()
        .map(|ops| {
            ops.iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub fn markdown(results: &Value) -> String {
    let mut md = String::new();
    let machine = &results["machine"];
    md.push_str("# Benchmark results\n\n");
    md.push_str(&format!(
        "`{}` on {} ({} CPUs, {}), {}. AWS is {}; Cloud Custodian {}. \
         Times are wall-clock on a shared machine: compare the ratios, not the absolute numbers.\n\n",
        results["command"].as_str().unwrap_or(""),
        results["date"].as_str().unwrap_or(""),
        machine["cpus"],
        machine["cpu"].as_str().unwrap_or("?"),
        machine["arch"].as_str().unwrap_or("?"),
        results["moto"].as_str().unwrap_or("moto"),
        results["custodian"].as_str().unwrap_or("?"),
    ));

    md.push_str("## Functions as deployed: one remediation per invocation, cold\n\n");
    md.push_str("Each cold run is a new process of the deployed binary (profile `deploy`) handed one real-shaped event about a freshly seeded problem; first answer is spawn to response. Floor: our init plus a bare SDK client (fresh connections, no policy, no parsing) making the fix's calls with the same concurrency: one round of reads, one of writes, one publish. Round-trip floor: our init plus three round trips at moto's measured time per call, which is what AWS, answering concurrent calls side by side, would allow; moto answers one request at a time, so on moto a round of six reads costs about six round trips. Custodian: the matching policy in its Lambda mode, a fresh Python process handling the same event through `c7n.handler.dispatch_event`.\n\n");
    md.push_str("| function | binary (MB, stripped) | init (ms) | first answer (ms) | floor (ms) | first answer ÷ floor | round-trip floor (ms) | Custodian event path (ms) | Custodian ÷ ours | fixed: ours / Custodian | warm p50 / p95 (ms) | peak RSS (MiB) | AWS calls per remediation |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|\n");
    for f in results["functions"].as_array().into_iter().flatten() {
        let peer = &f["custodian_event"];
        let ours = num(&f["cold_first_response_ms_p50"]);
        let (floor, peer_ms) = (num(&f["floor_ms"]), num(&peer["spawn_to_exit_ms_p50"]));
        let or_dash = |v: f64, text: String| if v > 0.0 { text } else { "-".into() };
        md.push_str(&format!(
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} ({}) |\n",
            f["function"].as_str().unwrap_or(""),
            num(&f["binary_bytes"]) / 1_000_000.0,
            f["cold_init_ms_p50"],
            f["cold_first_response_ms_p50"],
            or_dash(floor, format!("{floor}")),
            or_dash(floor, format!("{:.2}x", ours / floor.max(0.001))),
            or_dash(floor, format!("{}", f["round_trip_floor_ms"])),
            or_dash(peer_ms, format!("{peer_ms}")),
            or_dash(peer_ms, ratio(peer_ms, ours)),
            or_dash(
                peer_ms,
                format!(
                    "{}/{} / {}/{}",
                    f["cold_fixed"], f["cold_runs"], peer["fixed"], peer["runs"]
                )
            ),
            f["warm_ms_p50"],
            f["warm_ms_p95"],
            mib(num(&f["peak_rss_kib"])),
            f["aws_calls_per_remediation"],
            operations(&f["aws_calls_by_operation"]),
        ));
    }

    md.push_str("\n### Where the time goes\n\n");
    md.push_str("Ours: init (spawn to the first `next`) split by the function's own `started` log line; the rest of init is outside `main`'s own work: the kernel and the loader starting the binary, and the runtime client's first request. Custodian: spawn to exit split into the interpreter's start, `import c7n.handler`, and handling the event (reading the policy, loading its resource types, the AWS calls, the action).\n\n");
    md.push_str("| function | ours: init (ms) | starting the binary, first `next` | async runtime | logging | settings | SDK config | clients | ours: invocation (ms) | Custodian: interpreter (ms) | import (ms) | handling the event (ms) |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for f in results["functions"].as_array().into_iter().flatten() {
        let phases = &f["init_phases_ms_p50"];
        let init = num(&f["cold_init_ms_p50"]);
        let peer = &f["custodian_event"];
        let peer_cell = |key: &str| {
            peer[key]
                .as_f64()
                .map(|v| format!("{v}"))
                .unwrap_or_else(|| "-".into())
        };
        md.push_str(&format!(
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} |\n",
            f["function"].as_str().unwrap_or(""),
            init,
            (init - num(&phases["in_main_ms"])).max(0.0),
            phases["runtime_ms"],
            phases["logging_ms"],
            phases["settings_ms"],
            phases["sdk_config_ms"],
            phases["clients_ms"],
            num(&f["cold_first_response_ms_p50"]) - init,
            peer_cell("interpreter_ms_p50"),
            peer_cell("import_ms_p50"),
            peer_cell("work_ms_p50"),
        ));
    }

    md.push_str("\n### The two build profiles\n\n");
    md.push_str("`deploy` is what `make sam-build` and `make deploy-build` produce (fat LTO, one codegen unit, optimized for size); `release` is what the test rig builds (no LTO, quicker to link).\n\n");
    md.push_str("| function | binary (MB): deploy / release | init (ms): deploy / release | first answer (ms): deploy / release | warm p50 (ms): deploy / release | peak RSS (MiB): deploy / release |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|\n");
    let release = results["release_profile"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for f in results["functions"].as_array().into_iter().flatten() {
        let Some(r) = release.iter().find(|r| r["function"] == f["function"]) else {
            continue;
        };
        md.push_str(&format!(
            "| {} | {:.1} / {:.1} | {} / {} | {} / {} | {} / {} | {} / {} |\n",
            f["function"].as_str().unwrap_or(""),
            num(&f["binary_bytes"]) / 1_000_000.0,
            num(&r["binary_bytes"]) / 1_000_000.0,
            f["cold_init_ms_p50"],
            r["cold_init_ms_p50"],
            f["cold_first_response_ms_p50"],
            r["cold_first_response_ms_p50"],
            f["warm_ms_p50"],
            r["warm_ms_p50"],
            mib(num(&f["peak_rss_kib"])),
            mib(num(&r["peak_rss_kib"])),
        ));
    }

    md.push_str("\n## Sweeps: a tenth of the resources wrong, one notification per fix\n\n");
    md.push_str("Floor: a bare SDK client replaying the sweep's calls one after another on the same moto (listing, reads, writes, the notifications ten per `PublishBatch`), with no policy and no parsing. It runs after the sweep, on the state the sweep left.\n\n");
    md.push_str("| function | resources | fixed | wall (s) | floor (s) | wall ÷ floor | AWS calls | of which notifications | calls besides notifications | peak RSS (MiB) | by operation |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for s in results["sweeps"].as_array().into_iter().flatten() {
        let (wall, floor) = (num(&s["wall_ms"]), num(&s["floor_ms"]));
        if let Some(why) = s["failed"].as_str() {
            md.push_str(&format!(
                "| {} | {} | failed after {:.1} s: {} | | {:.1} | | {} | | | | {} |\n",
                s["function"].as_str().unwrap_or(""),
                s["resources"],
                wall / 1000.0,
                why.split("errorMessage")
                    .nth(1)
                    .unwrap_or(why)
                    .chars()
                    .take(160)
                    .collect::<String>()
                    .replace('|', "/"),
                floor / 1000.0,
                s["aws_calls"],
                operations(&s["aws_calls_by_operation"]),
            ));
            continue;
        }
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.2}x | {} | {} | {} | {} | {} |\n",
            s["function"].as_str().unwrap_or(""),
            s["resources"],
            s["summary"]["remediated"].as_u64().unwrap_or(0),
            wall / 1000.0,
            floor / 1000.0,
            wall / floor.max(0.001),
            s["aws_calls"],
            s["notifications"],
            s["aws_calls_without_notifications"],
            mib(num(&s["peak_rss_kib"])),
            operations(&s["aws_calls_by_operation"]),
        ));
    }

    let peer = &results["custodian_comparison"];
    md.push_str(&format!(
        "\n## Side by side with Cloud Custodian ({} buckets, {} security groups, {} instances)\n\n",
        peer["sizes"]["buckets"], peer["sizes"]["groups"], peer["sizes"]["instances"]
    ));
    md.push_str("Each tool on its own moto server seeded with the same estate; ours: the three functions started cold, one scheduled sweep each, no notifications; Custodian: one `custodian run` per policy (bench/custodian-policies.yml). Both judged by the end state.\n\n");
    md.push_str("| resource type | resources (wrong) | time: ours / Custodian (s) | time ratio (Custodian ÷ ours) | AWS calls: ours / Custodian | calls ratio (Custodian ÷ ours) | ours | Custodian |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---|---|\n");
    for k in peer["by_resource_type"].as_array().into_iter().flatten() {
        let (ours, theirs) = (&k["ours"], &k["custodian"]);
        md.push_str(&format!(
            "| {} | {} ({}) | {:.2} / {:.2} | {} | {} / {} | {} | {} | {} |\n",
            k["resource_type"].as_str().unwrap_or(""),
            k["resources"],
            k["wrong"],
            num(&ours["wall_ms"]) / 1000.0,
            num(&theirs["wall_ms"]) / 1000.0,
            ratio(num(&theirs["wall_ms"]), num(&ours["wall_ms"])),
            ours["aws_calls"],
            theirs["aws_calls"],
            ratio(num(&theirs["aws_calls"]), num(&ours["aws_calls"])),
            verdict_line(&ours["verdicts"]),
            verdict_line(&theirs["verdicts"]),
        ));
    }
    md.push_str("\nOver-fixed: the problem is gone but more was removed than needed (for example an all-traffic rule revoked without keeping ports 80 and 443 open). Calls by operation are in latest.json.\n");
    organization(&mut md, &results["organization"]);
    md
}

/// The fan-out sweep over many accounts, and what a month of it costs.
fn organization(md: &mut String, org: &Value) {
    if org.is_null() {
        return;
    }
    let regions = org["regions"].as_array().map(|r| r.len()).unwrap_or(0);
    md.push_str(&format!(
        "\n## Organization mode: one sweep over {} accounts x {} regions\n\n",
        org["accounts"], regions
    ));
    md.push_str(&format!(
        "Measured {}: `open-security-group` in organization mode on one moto ({} groups, {} open on SSH to the world); the schedule fans out through an SQS queue, {} consumers take one job at a time as the event source would, each member account reached through its member role.\n\n",
        org["date"].as_str().unwrap_or(""), org["resources"], org["wrong"], org["consumers"]
    ));
    md.push_str("| jobs | fixed | fan-out (ms) | wall, fan-out to empty queue (s) | job mean / max (ms) | AWS calls | AssumeRole | calls per job (account's own) | retried messages |\n");
    md.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    md.push_str(&format!(
        "| {} | {} / {} | {:.0} | {:.1} | {:.0} / {:.0} | {} | {} | {:.1} | {} |\n\n",
        org["jobs"],
        org["fixed"],
        org["wrong"],
        num(&org["fan_out_ms"]),
        num(&org["wall_ms"]) / 1000.0,
        num(&org["job_ms_mean"]),
        num(&org["job_ms_max"]),
        org["aws_calls"],
        org["assume_role_calls"],
        num(&org["calls_per_job"]),
        org["batch_item_failures"],
    ));
    let e = &org["monthly_estimate"];
    let usd = &e["usd"];
    md.push_str(&format!(
        "Monthly estimate for {} accounts x {} regions, each holding {}, every remediation sweeping hourly ({:.0} jobs; the three sweeps' {:.0} calls per account x region one after another at {} ms per AWS round trip, 128 MB arm64; us-east-1 list prices): Lambda ${:.2} ({:.0} GB-s), SQS ${:.2}, SNS ${:.2}, EventBridge ${:.2}: **${:.2} a month**. {}.",
        e["accounts"], e["regions"], e["estate_per_place"].as_str().unwrap_or("what the fan-out's accounts hold"),
        num(&e["jobs"]), num(&e["calls_per_place"]), e["assumed_aws_round_trip_ms"],
        num(&usd["lambda"]), num(&e["lambda_gb_seconds"]), num(&usd["sqs"]), num(&usd["sns"]),
        num(&usd["eventbridge"]), num(&usd["total"]),
        e["eventbridge_note"].as_str().unwrap_or(""),
    ));
    let c7n = &e["c7n_org_on_fargate"];
    if !c7n.is_null() {
        md.push_str(&format!(
            " c7n-org running the three Custodian policies per account x region for as long as they took on that estate here ({:.0} ms, interpreter starts included) on 1 vCPU / 2 GB Fargate: {:.0} compute-hours, **${:.2} a month**, before the host that schedules it.",
            num(&c7n["ms_per_place"]), num(&c7n["compute_hours"]), num(&c7n["usd"])
        ));
    }
    md.push('\n');
}

const BAR_HEIGHT: f64 = 16.0;
const LEFT: f64 = 150.0;
const WIDTH: f64 = 760.0;
const OURS: &str = "#2f7ed8";
const PEER: &str = "#f28f43";

/// One panel of paired horizontal bars: (label, ours, peer), scaled to the largest value.
fn panel(title: &str, unit: &str, rows: &[(String, f64, f64)], top: f64) -> (String, f64) {
    let max = rows
        .iter()
        .flat_map(|(_, a, b)| [*a, *b])
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    // Room on the right for the value labels and the ratio.
    let span = WIDTH - LEFT - 200.0;
    let mut svg = format!(
        "<text x=\"10\" y=\"{:.0}\" font-size=\"15\" font-weight=\"bold\">{title}</text>\n",
        top + 16.0
    );
    let mut y = top + 30.0;
    for (label, ours, peer) in rows {
        svg.push_str(&format!(
            "<text x=\"10\" y=\"{:.0}\" font-size=\"12\">{label}</text>\n",
            y + BAR_HEIGHT + 2.0
        ));
        for (value, color, who) in [(ours, OURS, "ours"), (peer, PEER, "Custodian")] {
            let w = (value / max * span).max(1.0);
            svg.push_str(&format!(
                "<rect x=\"{LEFT}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{BAR_HEIGHT}\" fill=\"{color}\"><title>{who}: {} {unit}</title></rect>\n\
                 <text x=\"{:.1}\" y=\"{:.0}\" font-size=\"11\">{} {unit}</text>\n",
                trim(*value),
                LEFT + w + 4.0,
                y + 12.0,
                trim(*value)
            ));
            y += BAR_HEIGHT + 2.0;
        }
        if *ours > 0.0 {
            svg.push_str(&format!(
                "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">Custodian: {:.1}x</text>\n",
                WIDTH - 110.0,
                y - BAR_HEIGHT,
                peer / ours
            ));
        }
        y += 10.0;
    }
    (svg, y)
}

fn trim(value: f64) -> String {
    if value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Wall time, AWS calls and end-state verdicts, ours against Custodian, per resource type.
pub fn svg(results: &Value) -> String {
    let kinds: Vec<&Value> = results["custodian_comparison"]["by_resource_type"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let rows = |field: &str, scale: f64| -> Vec<(String, f64, f64)> {
        kinds
            .iter()
            .map(|k| {
                (
                    k["resource_type"].as_str().unwrap_or("").to_string(),
                    num(&k["ours"][field]) * scale,
                    num(&k["custodian"][field]) * scale,
                )
            })
            .collect()
    };
    let bad = |side: &Value| {
        ["missed", "over-fixed", "wrongly changed"]
            .iter()
            .map(|v| side["verdicts"][v].as_u64().unwrap_or(0))
            .sum::<u64>() as f64
    };
    let harm: Vec<(String, f64, f64)> = kinds
        .iter()
        .map(|k| {
            (
                k["resource_type"].as_str().unwrap_or("").to_string(),
                bad(&k["ours"]),
                bad(&k["custodian"]),
            )
        })
        .collect();

    let cold: Vec<(String, f64, f64)> = results["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["custodian_event"].is_object())
        .map(|f| {
            (
                f["function"].as_str().unwrap_or("").to_string(),
                num(&f["cold_first_response_ms_p50"]),
                num(&f["custodian_event"]["spawn_to_exit_ms_p50"]),
            )
        })
        .collect();
    let (first, y) = panel(
        "One event, cold: spawn to answer (lower is better)",
        "ms",
        &cold,
        40.0,
    );
    let (time, y) = panel(
        "Sweep wall time (lower is better)",
        "s",
        &rows("wall_ms", 0.001),
        y + 10.0,
    );
    let (calls, y) = panel(
        "AWS API calls per sweep (lower is better)",
        "calls",
        &rows("aws_calls", 1.0),
        y + 10.0,
    );
    let (wrong, y) = panel(
        "Resources missed, over-fixed or wrongly changed (lower is better)",
        "",
        &harm,
        y + 10.0,
    );
    let sizes = &results["custodian_comparison"]["sizes"];
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{:.0}\" font-family=\"sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"22\" font-size=\"17\" font-weight=\"bold\">Remediation functions vs Cloud Custodian: {} buckets, {} security groups, {} instances</text>\n\
         <rect x=\"{:.0}\" y=\"30\" width=\"12\" height=\"12\" fill=\"{OURS}\"/><text x=\"{:.0}\" y=\"41\" font-size=\"12\">ours (Rust, Lambda runtime)</text>\n\
         <rect x=\"{:.0}\" y=\"30\" width=\"12\" height=\"12\" fill=\"{PEER}\"/><text x=\"{:.0}\" y=\"41\" font-size=\"12\">Cloud Custodian {}</text>\n\
         {first}{time}{calls}{wrong}\
         <text x=\"10\" y=\"{:.0}\" font-size=\"11\" fill=\"#555\">{} on {}; moto as AWS; make bench</text>\n</svg>\n",
        y + 30.0,
        sizes["buckets"],
        sizes["groups"],
        sizes["instances"],
        WIDTH - 420.0,
        WIDTH - 404.0,
        WIDTH - 220.0,
        WIDTH - 204.0,
        results["custodian"].as_str().unwrap_or(""),
        y + 15.0,
        results["date"].as_str().unwrap_or(""),
        results["machine"]["cpu"].as_str().unwrap_or(""),
    )
}
