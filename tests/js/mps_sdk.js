// Calls mps with the official Node.js SDK, as a user's code would: only the endpoint differs from
// Tencent Cloud. Driven by tests/integration/test_api_sdk_node.py.
//
//   node mps_sdk.js call ACTION 'JSON params'     one call
//   node mps_sdk.js wait TASK_ID TIMEOUT_SECONDS   DescribeTaskDetail until Status is FINISH
//
// Environment: MPS_ENDPOINT (host:port), TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY.
// Prints one JSON line: {"ok": true, "response": {...}} or
// {"ok": false, "code": "...", "message": "...", "requestId": "..."}; exits 0 either way, and
// non-zero only when the script itself failed.
"use strict";

const { mps } = require("tencentcloud-sdk-nodejs-mps");

function client() {
  return new mps.v20190612.Client({
    credential: {
      secretId: process.env.TENCENTCLOUD_SECRET_ID,
      secretKey: process.env.TENCENTCLOUD_SECRET_KEY,
    },
    region: "ap-guangzhou",
    profile: { httpProfile: { endpoint: process.env.MPS_ENDPOINT, protocol: "http://", reqTimeout: 30 } },
  });
}

async function call(action, params) {
  return client()[action](params);
}

async function wait(taskId, timeoutSeconds) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const sdk = client();
  for (;;) {
    const detail = await sdk.DescribeTaskDetail({ TaskId: taskId });
    if (detail.Status === "FINISH" || Date.now() > deadline) {
      return detail;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main([command, ...args]) {
  try {
    let response;
    if (command === "call") {
      response = await call(args[0], JSON.parse(args[1] || "{}"));
    } else if (command === "wait") {
      response = await wait(args[0], Number(args[1] || 30));
    } else {
      throw new Error(`unknown command ${command}`);
    }
    console.log(JSON.stringify({ ok: true, response }));
  } catch (err) {
    if (err.code === undefined) {
      throw err; // not an API error: a network or script failure, shown with its stack
    }
    console.log(JSON.stringify({ ok: false, code: err.code, message: err.message, requestId: err.requestId }));
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
