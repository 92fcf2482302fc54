//! End-to-end behaviour of the gateway server against an upstream stub on loopback.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use support::*;

const CHAT_BODY: &str = r#"{"model":"client-model","messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::test]
async fn json_chat_is_proxied_with_model_rewrite_key_injection_and_headers() {
    let mut h = start().await;
    let request = post("/v1/chat/completions?api-version=1")
        .header("authorization", "Bearer client-secret")
        .header("x-api-key", "client-key")
        .header("accept-encoding", "gzip")
        .header("x-custom", "kept")
        .body(Full::new(Bytes::from_static(CHAT_BODY.as_bytes())))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["x-gatesmith-model-api"], "chat");
    assert_eq!(headers["x-gatesmith-route"], "chat-completions");
    assert_eq!(headers["x-gatesmith-service"], "stub");
    assert_eq!(headers["x-gatesmith-model"], "upstream-model");
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        !headers.contains_key("keep-alive"),
        "hop-by-hop header leaked"
    );
    let answer = body_json(response).await;
    assert_eq!(answer["model"], "upstream-model");

    let seen = h.stub.seen.recv().await.expect("stub saw the request");
    assert_eq!(seen.path_and_query, "/v1/chat/completions?api-version=1");
    assert_eq!(seen.headers["authorization"], format!("Bearer {API_KEY}"));
    assert!(!seen.headers.contains_key("x-api-key"));
    assert_eq!(seen.headers["accept-encoding"], "identity");
    assert_eq!(seen.headers["x-custom"], "kept");
    assert_eq!(seen.headers["content-length"], seen.body.len().to_string());
    let expected = CHAT_BODY.replace("client-model", "upstream-model");
    assert_eq!(seen.body, expected.as_bytes());
}

#[tokio::test]
async fn pass_through_forwards_original_bytes_and_strips_the_base_path() {
    let mut h = start().await;
    let odd_but_valid = "{ \"messages\": [],\n  \"model\" : \"client-model\" }";
    let request = post("/pass/v1/chat/completions?x=1")
        .body(Full::new(Bytes::from(odd_but_valid)))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-gatesmith-model"], "client-model");
    assert_eq!(response.headers()["x-gatesmith-model-api"], "passthru");
    let seen = h.stub.seen.recv().await.expect("stub saw the request");
    assert_eq!(seen.path_and_query, "/v1/chat/completions?x=1");
    assert_eq!(seen.body, odd_but_valid.as_bytes());
    assert_eq!(seen.headers["authorization"], format!("Bearer {API_KEY}"));
}

#[tokio::test]
async fn host_match_ignores_port_and_case() {
    let h = start().await;
    let request = Request::post("/v1/chat/completions")
        .header("host", "GW.Test:8443")
        .body(Full::new(Bytes::from_static(CHAT_BODY.as_bytes())))
        .expect("request");
    assert_eq!(send(h.gateway_addr, request).await.status(), StatusCode::OK);
    let request = Request::post("/v1/chat/completions")
        .header("host", "other.test:8443")
        .body(Full::new(Bytes::from_static(CHAT_BODY.as_bytes())))
        .expect("request");
    assert_eq!(
        send(h.gateway_addr, request).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_405_in_protocol_format() {
    let h = start().await;
    let response = send(h.gateway_addr, json_request("/v1/nothing-here", "{}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = body_json(response).await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["param"].is_null());
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/v1/nothing-here"))
    );

    let request = Request::get("/v1/chat/completions")
        .header("host", "gw.test")
        .body(Full::default())
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(
        body_json(response).await["error"]["code"],
        "method_not_allowed"
    );

    let request = Request::get("/anth/v1/messages")
        .header("host", "gw.test")
        .body(Full::default())
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body = body_json(response).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // No Model API at all, Anthropic-looking path: Anthropic's format.
    let request = Request::post("/v1/messages")
        .header("host", "nobody.test")
        .body(Full::default())
        .expect("request");
    let body = body_json(send(h.gateway_addr, request).await).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn invalid_json_gets_400_in_protocol_format() {
    let h = start().await;
    let response = send(
        h.gateway_addr,
        json_request("/v1/chat/completions", "{not json"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body_json(response).await["error"]["type"],
        "invalid_request_error"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_and_large_prompts_under_it_pass() {
    let h = start_with_limit(1024 * 1024).await;
    // Announced by Content-Length: rejected before reading.
    let big = Bytes::from(vec![b' '; 1024 * 1024 + 1]);
    let response = send(
        h.gateway_addr,
        post("/v1/chat/completions")
            .body(Full::new(big))
            .expect("request"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "request_too_large"
    );

    // Chunked, no Content-Length: counted while reading.
    let mut stream = raw_request(
        h.gateway_addr,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gw.test\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await;
    use tokio::io::AsyncWriteExt;
    let chunk = vec![b' '; 64 * 1024];
    let mut chunk_frame = format!("{:x}\r\n", chunk.len()).into_bytes();
    chunk_frame.extend_from_slice(&chunk);
    chunk_frame.extend_from_slice(b"\r\n");
    for _ in 0..17 {
        if stream.write_all(&chunk_frame).await.is_err() {
            break;
        }
    }
    let head = raw_read_until(&mut stream, b"\r\n\r\n").await;
    assert!(
        head.starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&head)
    );

    // A 4 MiB prompt under the default 32 MiB limit.
    let h = start().await;
    let prompt = "a".repeat(4 * 1024 * 1024);
    let body = format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{prompt}"}}]}}"#);
    let response = send(
        h.gateway_addr,
        post("/pass/v1/chat/completions")
            .body(Full::new(Bytes::from(body)))
            .expect("request"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn sse_events_reach_the_client_one_by_one_as_they_arrive() {
    let h = start().await;
    let feed = h.stub.stream_sender();
    let event = |n: usize| {
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"token{n}\"}}}}]}}\n\n")
    };
    // The head waits for the first content (the commit point), so it goes first.
    feed.send(Bytes::from(event(0))).expect("stub stream open");
    let request = post("/v1/chat/completions")
        .header("x-stub-mode", "controlled")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"m","stream":true}"#,
        )))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut collected = Vec::new();
    for n in 0..5 {
        let event = event(n);
        if n > 0 {
            feed.send(Bytes::from(event.clone()))
                .expect("stub stream open");
        }
        // The next event is only sent once this one reached the client.
        tokio::time::timeout(
            Duration::from_secs(2),
            read_until(&mut body, &mut collected, event.as_bytes()),
        )
        .await
        .unwrap_or_else(|_| panic!("event {n} was held back by the gateway"));
    }
    feed.send(Bytes::from_static(b"data: [DONE]\n\n"))
        .expect("open");
    drop(feed);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("clean end").into_data() {
            collected.extend_from_slice(&data);
        }
    }
    assert!(collected.ends_with(b"data: [DONE]\n\n"));
}

#[tokio::test]
async fn client_disconnect_mid_stream_closes_the_upstream_within_a_second() {
    let mut h = start().await;
    let body = r#"{"model":"m","stream":true}"#;
    let mut stream = raw_request(
        h.gateway_addr,
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: gw.test\r\nx-stub-mode: endless\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    raw_read_until(&mut stream, b"data: ").await;
    drop(stream);
    tokio::time::timeout(Duration::from_secs(1), h.stub.body_dropped.recv())
        .await
        .expect("upstream stream still open 1 s after the client left")
        .expect("stub alive");
    assert_eq!(h.gateway.stats().cancelled(), 1);
    assert_eq!(h.gateway.stats().truncated(), 0);
}

#[tokio::test]
async fn first_packet_timeout_gives_504_and_drops_the_upstream() {
    let mut h = start().await;
    let started = Instant::now();
    let request = post("/fpt/v1/chat/completions")
        .header("x-stub-mode", "pings")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"m","stream":true}"#,
        )))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(
        body_json(response).await["error"]["code"],
        "gateway_timeout"
    );
    tokio::time::timeout(Duration::from_secs(1), h.stub.body_dropped.recv())
        .await
        .expect("upstream stream not dropped after the first packet timeout")
        .expect("stub alive");
}

#[tokio::test]
async fn first_packet_wait_replays_everything_read_in_order() {
    let h = start().await;
    let request = post("/fpt/v1/chat/completions")
        .header("x-stub-mode", "late-content")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"m","stream":true}"#,
        )))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(
        &bytes[..],
        b": ping\n\nevent: ping\n\ndata: {\"n\":1}\n\ndata: [DONE]\n\n"
    );
}

#[tokio::test]
async fn non_streaming_requests_ignore_the_first_packet_timeout() {
    let h = start().await;
    let response = send(
        h.gateway_addr,
        json_request("/fpt/v1/chat/completions", CHAT_BODY),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn upstream_timeout_is_504_and_unreachable_upstream_is_502() {
    let h = start().await;
    let request = post("/slow/v1/chat/completions")
        .header("x-stub-mode", "slow-head")
        .body(Full::new(Bytes::from_static(CHAT_BODY.as_bytes())))
        .expect("request");
    let started = Instant::now();
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(body_json(response).await["error"]["type"], "api_error");

    let response = send(
        h.gateway_addr,
        json_request("/down/v1/chat/completions", CHAT_BODY),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(body_json(response).await["error"]["code"], "bad_gateway");
}

#[tokio::test]
async fn a_panicking_handler_gets_500_and_the_server_keeps_serving() {
    let h = start().await;
    let response = send(h.gateway_addr, json_request("/panic", "{}")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body_json(response).await["error"]["type"], "api_error");
    let response = send(
        h.gateway_addr,
        json_request("/v1/chat/completions", CHAT_BODY),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn shutdown_refuses_new_connections_and_lets_in_flight_streams_finish() {
    let h = start().await;
    let feed = h.stub.stream_sender();
    // Content before the head: the gateway commits a stream at its first content.
    const FIRST: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"1\"}}]}\n\n";
    feed.send(Bytes::from_static(FIRST)).expect("open");
    let request = post("/v1/chat/completions")
        .header("x-stub-mode", "controlled")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"m","stream":true}"#,
        )))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    let mut body = response.into_body();
    let mut collected = Vec::new();
    read_until(&mut body, &mut collected, FIRST).await;

    h.handle.shutdown();
    let refused_by = Instant::now() + Duration::from_secs(2);
    loop {
        if tokio::net::TcpStream::connect(h.gateway_addr)
            .await
            .is_err()
        {
            break;
        }
        assert!(
            Instant::now() < refused_by,
            "still accepting connections after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    feed.send(Bytes::from_static(b"data: {\"n\":2}\n\n"))
        .expect("open");
    feed.send(Bytes::from_static(b"data: [DONE]\n\n"))
        .expect("open");
    drop(feed);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame
            .expect("stream completes cleanly during the drain")
            .into_data()
        {
            collected.extend_from_slice(&data);
        }
    }
    let mut expected = FIRST.to_vec();
    expected.extend_from_slice(b"data: {\"n\":2}\n\ndata: [DONE]\n\n");
    assert_eq!(collected, expected);
    tokio::time::timeout(Duration::from_secs(2), h.handle.stopped())
        .await
        .expect("server stops once drained");
}

#[tokio::test]
async fn http2_prior_knowledge_clients_are_served_on_the_same_port() {
    let h = start().await;
    let stream = tokio::net::TcpStream::connect(h.gateway_addr)
        .await
        .expect("connect");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(connection);
    let request = Request::post("http://gw.test:9999/v1/chat/completions")
        .body(Full::new(Bytes::from_static(CHAT_BODY.as_bytes())))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-gatesmith-service"], "stub");
}

#[tokio::test]
async fn mock_services_answer_in_process_with_the_rewritten_model() {
    let h = start().await;
    let response = send(
        h.gateway_addr,
        json_request("/mock/v1/chat/completions", CHAT_BODY),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-gatesmith-service"], "builtin-mock");
    assert_eq!(response.headers()["x-gatesmith-model"], "mock-small");
    let answer = body_json(response).await;
    assert_eq!(answer["model"], "mock-small");
    assert!(answer["usage"]["completion_tokens"].as_u64().is_some());
}

#[tokio::test]
async fn mock_streams_end_with_done_and_a_cut_stream_is_not_a_clean_end() {
    let h = start().await;
    let stream_body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let response = send(
        h.gateway_addr,
        json_request("/mock/v1/chat/completions", stream_body),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("clean stream")
        .to_bytes();
    assert!(bytes.ends_with(b"data: [DONE]\n\n"), "{bytes:?}");

    let request = post("/mock/v1/chat/completions")
        .header("x-mock-fault", "cut-after-chunks:2")
        .body(Full::new(Bytes::from_static(stream_body.as_bytes())))
        .expect("request");
    let response = send(h.gateway_addr, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the stream ends with an error event")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("[DONE]") && text.ends_with("\"code\":\"upstream_stream_cut\"}}\n\n"),
        "a cut upstream stream must end with an error event, not look complete: {text}"
    );
    assert_eq!(h.gateway.stats().truncated(), 1);
}

#[tokio::test]
async fn client_disconnect_while_waiting_for_first_content_drops_the_upstream() {
    let mut h = start().await;
    let body = r#"{"model":"m","stream":true}"#;
    let stream = raw_request(
        h.gateway_addr,
        &format!(
            "POST /fpt/v1/chat/completions HTTP/1.1\r\nhost: gw.test\r\nx-stub-mode: pings\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    // Wait until the gateway is inside the first packet wait.
    let _seen = h.stub.seen.recv().await.expect("stub saw the request");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let left_at = Instant::now();
    drop(stream);
    tokio::time::timeout(Duration::from_secs(1), h.stub.body_dropped.recv())
        .await
        .expect("upstream stream still open after the client left")
        .expect("stub alive");
    // Well before the 300 ms first packet timeout would have dropped it anyway.
    assert!(
        left_at.elapsed() < Duration::from_millis(200),
        "{:?}",
        left_at.elapsed()
    );
}

#[tokio::test]
async fn slow_clients_are_closed_by_the_header_read_timeout() {
    let h = start().await;
    let mut stream = raw_request(
        h.gateway_addr,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gw",
    )
    .await;
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    use tokio::io::AsyncReadExt;
    let read = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // a 408 is fine too; wait for the close
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "connection with an unfinished head was never closed"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "closed too early: {elapsed:?}"
    );
}

#[tokio::test]
async fn client_disconnect_before_the_upstream_head_abandons_the_upstream_request() {
    let mut h = start().await;
    let stream = raw_request(
        h.gateway_addr,
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: gw.test\r\nx-stub-mode: hang-head\r\ncontent-length: {}\r\n\r\n{CHAT_BODY}",
            CHAT_BODY.len()
        ),
    )
    .await;
    let _seen = h.stub.seen.recv().await.expect("stub saw the request");
    drop(stream);
    tokio::time::timeout(Duration::from_secs(1), h.stub.body_dropped.recv())
        .await
        .expect("upstream request still pending 1 s after the client left")
        .expect("stub alive");
}
