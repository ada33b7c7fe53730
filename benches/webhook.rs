//! Micro-benchmark: one typical ActiveCampaign webhook through parse + key check + tag and
//! field diff + plan, as the plugin drives it. Prints µs per webhook and allocations, and a
//! baseline measured in the same run (form-decoding the same body and nothing else), so the
//! figures read as a ratio on whatever machine runs it. `cargo bench --bench webhook`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crmhooks::contact::{Contact, Field, Tag};
use crmhooks::settings::{FieldMapping, RoleInfo, Settings};

struct CountingAllocator;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const KEY: &str = "bench-access-key-8c1f0e2d9a7b6c5d";
const BODY: &str = "type=update&date_time=2024-02-28T07%3A04%3A13-06%3A00&initiated_from=admin&initiated_by=admin&list=0&contact%5Bid%5D=42&contact%5Bemail%5D=jane.doe%40example.com&contact%5Bfirst_name%5D=Jane&contact%5Blast_name%5D=Doe&contact%5Bphone%5D=%2B1+555-010-1234&contact%5Bip%5D=0.0.0.0&contact%5Btags%5D=member%2C+vip&contact%5Bcustomer_acct_name%5D=&contact%5Borgname%5D=&contact%5Bfields%5D%5B1%5D=Gold&contact%5Bfields%5D%5B7%5D=%7C%7COption+1%7C%7COption+2%7C%7C&customer_acct_name=&customer_acct_id=0&orgname=";

fn contact() -> Contact {
    Contact {
        id: "42".into(),
        email: "jane.doe@example.com".into(),
        first_name: "Jane".into(),
        last_name: "Doe".into(),
        tags: vec![Tag { id: "3".into(), name: "member".into() }, Tag { id: "7".into(), name: "vip".into() }],
        fields: vec![
            Field { key: "email".into(), label: "Email".into(), value: "jane.doe@example.com".into() },
            Field { key: "first_name".into(), label: "First name".into(), value: "Jane".into() },
            Field { key: "last_name".into(), label: "Last name".into(), value: "Doe".into() },
            Field { key: "1".into(), label: "Membership Level".into(), value: "Gold".into() },
        ],
    }
}

fn plan_input(request_json: &str) -> String {
    let settings = Settings {
        field_map: vec![FieldMapping { crm_key: "1".into(), wp_key: "membership_level".into() }],
        roles: vec![RoleInfo {
            slug: "subscriber".into(),
            name: "Subscriber".into(),
            capabilities: vec!["read".into()],
        }],
        ..Settings::default()
    };
    format!(
        r#"{{"request":{request_json},"contact":{},"linked_users":[{{"id":7,"user_login":"jane.doe@example.com","user_email":"jane.doe@example.com","first_name":"Jane","last_name":"Doe","contact_id":"42","roles":["subscriber"],"tags":[{{"id":"3","name":"member"}}],"meta":{{"membership_level":"Silver"}}}}],"settings":{}}}"#,
        serde_json::to_string(&contact()).unwrap(),
        serde_json::to_string(&settings).unwrap()
    )
}

/// One webhook as the plugin runs it: accept (parse + key) and serialize the request for
/// PHP, then the tag diff and the plan from the JSON PHP sends back (built once: in
/// production PHP's json_encode makes it, not the library).
fn one_webhook(query: &str, plan_json: &str, incoming_tags: &[String]) -> usize {
    let request = crmhooks::request::accept(
        b"POST",
        query.as_bytes(),
        b"application/x-www-form-urlencoded",
        BODY.as_bytes(),
        KEY,
    )
    .expect("the benchmark body is valid");
    let request_json = serde_json::to_string(&request).unwrap();
    let current = vec!["member".to_string()];
    let diff = crmhooks::diff::diff_tags(&current, incoming_tags);
    let plan = crmhooks::plan::plan_json(plan_json, "generated-password").expect("plan");
    black_box(&diff);
    request_json.len() + plan.len()
}

fn baseline() -> usize {
    form_urlencoded::parse(BODY.as_bytes()).map(|(k, v)| k.len() + v.len()).sum()
}

fn measure(name: &str, iterations: u32, mut f: impl FnMut() -> usize) -> f64 {
    for _ in 0..iterations / 10 {
        black_box(f());
    }
    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    let allocations = (ALLOCATIONS.load(Ordering::Relaxed) - allocations_before) / iterations as usize;
    println!("{name:<44} {micros:>9.2} µs/op  {allocations:>6} allocations/op");
    micros
}

fn main() {
    let query = format!("wpf_action=update&access_key={KEY}");
    let iterations = 20_000;
    println!("crmhooks webhook benchmark ({iterations} iterations, typical ActiveCampaign update body)");
    let base = measure("baseline: form-decode the body only", iterations, baseline);
    let request = crmhooks::request::accept(
        b"POST",
        query.as_bytes(),
        b"application/x-www-form-urlencoded",
        BODY.as_bytes(),
        KEY,
    )
    .expect("the benchmark body is valid");
    let plan_json = plan_input(&serde_json::to_string(&request).unwrap());
    let incoming_tags = contact().tag_names();
    let full =
        measure("parse + key check + tag diff + plan", iterations, || one_webhook(&query, &plan_json, &incoming_tags));
    println!("ratio full/baseline: {:.1}x", full / base);
    println!("per webhook: {full:.2} µs (floor in issue 3: < 20 µs)");
}
