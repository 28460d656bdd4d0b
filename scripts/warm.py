"""Waits (bounded) until each deployed function answers through the Lambda Invoke API at
cargo lambda watch's endpoint. The first call of a function compiles it. The event asks for a
method no route has (PATCH), which every function refuses with 405: nothing is read or written.

    warm.py OUTPUTS_JSON LAMBDA_ENDPOINT BOUND_SECONDS
"""
import json
import sys
import time
import urllib.request

outputs, endpoint, bound = sys.argv[1], sys.argv[2].rstrip("/"), float(sys.argv[3])
functions = list(json.load(open(outputs))["functions"])
event = {
    "resource": "/warm", "path": "/warm", "httpMethod": "PATCH", "headers": None, "multiValueHeaders": None,
    "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
    "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"accountId": "123456789012", "apiId": "warm", "stage": "prod", "requestId": "warm",
                       "resourcePath": "/warm", "httpMethod": "PATCH", "path": "/prod/warm", "identity": {}},
}

deadline = time.monotonic() + bound
for name in functions:
    while True:
        try:
            request = urllib.request.Request(
                f"{endpoint}/2015-03-31/functions/{name}/invocations",
                data=json.dumps(event).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=max(1.0, deadline - time.monotonic())) as r:
                status = json.loads(r.read()).get("statusCode")
            if status == 405:
                break
            print(f"{name} answered {status} to the warm-up, expected 405", file=sys.stderr)
            sys.exit(1)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                print(f"{name} did not answer within {bound} s", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.5)
