-- wrk script: a small, non-streaming chat completion POST.
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-small","messages":[{"role":"user","content":"Say hello."}]}'
