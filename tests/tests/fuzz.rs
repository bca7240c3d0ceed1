//! Hostile input at every public method, generated from the descriptors (a new method is
//! covered the day it is added): bytes that are not a valid message, and valid messages with
//! random field values (unknown enum numbers, huge repeated fields, odd strings, real and made-up
//! ids). Whatever comes in, the answer is never INTERNAL, UNKNOWN, UNAVAILABLE or DATA_LOSS, an
//! INVALID_ARGUMENT names a field (or says MALFORMED_REQUEST for bytes that are no message), and
//! the gateway goes on answering.
//!
//! Short by default (a few calls per method, as CI runs it); `PARTNERHUB_FUZZ_SECONDS=600`
//! keeps going for ten minutes. `PARTNERHUB_FUZZ_SEED` replays a run (the seed is printed).

use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::PartnerType;
use partnerhub_tests::{Raw, TestSystem, reason};
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_types::StatusExt;

/// Ids and tokens the generator puts in requests, so that calls get past authorization into
/// the handlers.
struct World {
    tokens: Vec<String>,
    ids: Vec<String>,
}

struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.gen_range(0..items.len())]
    }

    fn string(&mut self, world: &World) -> String {
        match self.rng.gen_range(0..10) {
            0 => String::new(),
            1 => self.pick(&world.ids).clone(),
            2 => uuid::Uuid::new_v4().to_string(),
            3 => "x".repeat(self.rng.gen_range(200..5000)),
            4 => "\u{0}\u{7}\r\n\t".to_string(),
            5 => "😀 åäö ß ﬁ \u{202e}".to_string(),
            6 => "' OR 1=1; --".to_string(),
            7 => {
                (*self.pick(&["SE", "US", "se", "ZZ", "partnerhub", "admin@a.example"])).to_string()
            }
            _ => (0..self.rng.gen_range(1..24))
                .map(|_| char::from(self.rng.gen_range(0x20u8..0x7f)))
                .collect(),
        }
    }

    fn int(&mut self) -> i64 {
        let random = self.rng.r#gen();
        *self.pick(&[
            0,
            1,
            -1,
            2,
            99,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
            random,
        ])
    }

    fn enum_number(&mut self, field: &FieldDescriptor) -> i32 {
        let Kind::Enum(e) = field.kind() else {
            return 0;
        };
        if self.chance(0.5) {
            let values: Vec<i32> = e.values().map(|v| v.number()).collect();
            *self.pick(&values)
        } else {
            *self.pick(&[99, -1, i32::MAX, i32::MIN, 1000])
        }
    }

    fn value(&mut self, field: &FieldDescriptor, world: &World, depth: u32) -> Value {
        match field.kind() {
            Kind::String => Value::String(self.string(world)),
            Kind::Bytes => Value::Bytes(
                (0..self.rng.gen_range(0..64))
                    .map(|_| self.rng.r#gen())
                    .collect::<Vec<u8>>()
                    .into(),
            ),
            Kind::Bool => Value::Bool(self.rng.r#gen()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(self.int() as i32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(self.int()),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(self.int() as u32),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(self.int() as u64),
            Kind::Float => Value::F32(*self.pick(&[0.0, -1.0, f32::NAN, f32::INFINITY, 1e30])),
            Kind::Double => Value::F64(*self.pick(&[0.0, -1.0, f64::NAN, f64::INFINITY, 1e300])),
            Kind::Enum(_) => Value::EnumNumber(self.enum_number(field)),
            Kind::Message(m) => Value::Message(self.message(&m, world, depth + 1)),
        }
    }

    /// A valid message with random values in random fields.
    fn message(&mut self, desc: &MessageDescriptor, world: &World, depth: u32) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        if depth > 3 {
            return message;
        }
        for field in desc.fields() {
            if field.is_map() || !self.chance(0.6) {
                continue;
            }
            let value = if field.is_list() {
                let n = *self.pick(&[0usize, 1, 2, 5, 30, 1000, 3000]);
                // Big lists of small values only: a thousand nested messages is a big request,
                // not a hostile one, and the size limit answers it.
                let n = if matches!(field.kind(), Kind::Message(_)) {
                    n.min(5)
                } else {
                    n
                };
                Value::List((0..n).map(|_| self.value(&field, world, depth)).collect())
            } else {
                self.value(&field, world, depth)
            };
            message.set_field(&field, value);
        }
        message
    }

    /// Bytes that are not a valid encoding of `desc`.
    fn malformed(&mut self, desc: &MessageDescriptor, world: &World) -> (Vec<u8>, &'static str) {
        let string_field = desc
            .fields()
            .find(|f| f.kind() == Kind::String && !f.is_list())
            .map(|f| f.number())
            .unwrap_or(1);
        let tag = |number: u32, wire: u8| varint(u64::from(number) << 3 | u64::from(wire));
        match self.rng.gen_range(0..10) {
            0 => (
                (0..self.rng.gen_range(1..64))
                    .map(|_| self.rng.r#gen())
                    .collect(),
                "garbage",
            ),
            1 => {
                let mut b = tag(string_field, 2);
                b.extend([3, 0xff, 0xfe, b'a']);
                (b, "invalid UTF-8 in a string field")
            }
            2 => (vec![0x08, 0xff, 0xff], "a truncated varint"),
            3 => {
                // The string field as a 64-bit number.
                let mut b = tag(string_field, 1);
                b.extend([0; 8]);
                (b, "a wrong wire type")
            }
            4 => {
                let mut b = tag(string_field, 2);
                b.extend(varint(1 << 63));
                (b, "a length of 2^63")
            }
            5 => (vec![0x00, 0x01], "field number 0"),
            6 => (tag(5, 4), "a stray end-group"),
            7 => {
                let mut b = Vec::new();
                for _ in 0..200 {
                    b.extend(tag(1000, 3));
                }
                for _ in 0..200 {
                    b.extend(tag(1000, 4));
                }
                (b, "deeply nested unknown groups")
            }
            8 => {
                let mut b = self.message(desc, world, 0).encode_to_vec();
                b.extend([0x0a, 0x10, b'x']);
                (b, "a valid message with a field cut short after it")
            }
            _ => (tag(string_field, 6), "wire type 6"),
        }
    }
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// What's wrong with an answer, if anything.
fn problem(answer: &Result<(), tonic::Status>) -> Option<String> {
    let Err(status) = answer else {
        return None;
    };
    match status.code() {
        Code::Internal | Code::Unknown | Code::Unavailable | Code::DataLoss => Some(format!(
            "{:?} {:?} ({})",
            status.code(),
            status.message(),
            reason(status)
        )),
        Code::InvalidArgument => {
            let details = status.get_error_details();
            let named = details
                .bad_request()
                .is_some_and(|b| !b.field_violations.is_empty());
            (!named && reason(status) != "MALFORMED_REQUEST").then(|| {
                format!(
                    "INVALID_ARGUMENT naming no field: {:?} ({})",
                    status.message(),
                    reason(status)
                )
            })
        }
        _ => None,
    }
}

async fn call(
    sys: &TestSystem,
    method: &MethodDescriptor,
    token: &str,
    body: Vec<u8>,
) -> Result<(), tonic::Status> {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let path = PathAndQuery::try_from(path).map_err(|e| tonic::Status::internal(e.to_string()))?;
    let mut grpc = tonic::client::Grpc::new(sys.authed(token));
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("client not ready: {e}")))?;
    let mut request = tonic::Request::new(body);
    request.set_timeout(Duration::from_secs(20));
    if method.is_server_streaming() {
        let mut stream = grpc
            .server_streaming(request, path, Raw)
            .await?
            .into_inner();
        // An open stream that sends nothing for a while is a fine answer.
        match tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
            Ok(Err(status)) => Err(status),
            _ => Ok(()),
        }
    } else {
        grpc.unary(request, path, Raw).await.map(drop)
    }
}

#[tokio::test]
async fn no_input_at_any_public_method_gets_an_internal_error_or_a_try_again() {
    let seed: u64 = std::env::var("PARTNERHUB_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let seconds: u64 = std::env::var("PARTNERHUB_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    println!("PARTNERHUB_FUZZ_SEED={seed}");
    let mut generator = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };

    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::IndirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("contoso", "SE").await;
    let world = World {
        tokens: vec![sys.operator.clone(), partner_admin.clone(), customer_admin],
        ids: vec![partner.id.clone(), customer.id.clone()],
    };
    let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).expect("descriptors");
    let methods: Vec<MethodDescriptor> = pool
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    assert!(methods.len() >= 40, "{} public methods", methods.len());

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut calls, mut round) = (0u64, 0u32);
    let mut problems = Vec::new();
    // At least three rounds; more until the time is up.
    while round < 3 || Instant::now() < deadline {
        round += 1;
        for method in &methods {
            for malformed in [true, false] {
                let token = generator.pick(&world.tokens).clone();
                let (body, input) = if malformed {
                    let (body, what) = generator.malformed(&method.input(), &world);
                    (body, what)
                } else {
                    let message = generator.message(&method.input(), &world, 0);
                    (message.encode_to_vec(), "random values")
                };
                let answer = call(&sys, method, &token, body.clone()).await;
                calls += 1;
                if let Some(problem) = problem(&answer) {
                    problems.push(format!(
                        "{}: {input} ({} bytes: {:02x?}…): {problem}",
                        method.full_name(),
                        body.len(),
                        &body[..body.len().min(24)]
                    ));
                }
            }
        }
    }

    // Still answering.
    sys.tenants(&partner_admin)
        .get_tenant(pb::GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("the gateway still answers");
    println!(
        "{calls} calls in {round} rounds, {} problems",
        problems.len()
    );
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "seed {seed}: {} answers were wrong:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    sys.stop().await;
}
