// Runs the compiled mini-program client (clients/miniapp/src/client.ts) in Node against a running
// demo service, with a `wx` global that does what WeChat's does: wx.login asks the demo's fake
// WeChat for a one-time code, wx.request sends the request with fetch, storage is a Map.
// Usage: node drive_miniapp_client.cjs <compiled client.js> <service url>
// Prints one JSON object of what happened, for the Python test to check.
"use strict";

const [clientPath, base] = process.argv.slice(2);
const storage = new Map();
const sent = [];
let loseNextAnswer = false;

async function post(path, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(base + path, { method: "POST", headers, body: JSON.stringify(body) });
    return response.json();
}

const openid = `ts-client-${process.pid}-${Date.now()}`;
globalThis.wx = {
    login(options) {
        post("/fake-wechat/_demo/login-code", { openid }).then(
            (answer) => options.success({ code: answer.code, errMsg: "login:ok" }),
            (error) => options.fail({ errMsg: String(error) }),
        );
    },
    request(options) {
        sent.push({ method: options.method, url: options.url.slice(base.length), header: options.header });
        fetch(options.url, { method: options.method, headers: options.header, body: options.data }).then(
            async (response) => {
                const text = await response.text();
                if (loseNextAnswer) {
                    // the service did the work; the answer never reached the phone
                    loseNextAnswer = false;
                    options.fail({ errMsg: "request:fail timeout" });
                    return;
                }
                const header = {};
                response.headers.forEach((value, name) => (header[name] = value));
                options.success({ statusCode: response.status, data: text ? JSON.parse(text) : "", header });
            },
            (error) => options.fail({ errMsg: String(error) }),
        );
    },
    getStorageSync: (key) => storage.get(key) ?? "",
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
};

async function refusal(promise) {
    try {
        await promise;
        return null;
    } catch (error) {
        return { name: error.name, status: error.status, code: error.code };
    }
}

async function main() {
    const { MemberApi, newIdempotencyKey } = require(clientPath);
    const api = new MemberApi({ baseUrl: base + "/" });
    const result = {};

    const session = await api.login();
    result.login = { has_card: session.has_card, token_stored: storage.get("wxmember.session") === session.token };
    result.card_before = await refusal(api.call("get", "/card"));

    const phone = await post("/fake-wechat/_demo/phone-code", { phone: "13900001234" });
    const card = await api.call("post", "/card", {
        body: { name: "类型", birthday: "1992-03-04", phone_code: phone.code },
    });
    result.card = { card_no: card.card_no, phone: card.phone, shown: (await api.call("get", "/card")).card_no };
    result.profile = (await api.call("post", "/me", { body: { gender: "undisclosed" } })).gender;
    result.bearer_sent = sent.filter((s) => s.url.startsWith("/api/v1/card")).every((s) => s.header.Authorization === `Bearer ${session.token}`);

    // a token the service no longer knows: the client logs in again, once, and goes on
    storage.set("wxmember.session", "stale-token");
    const again = new MemberApi({ baseUrl: base });
    result.relogin = (await again.call("get", "/points")).balance !== undefined;
    result.relogin_token_replaced = storage.get("wxmember.session") !== "stale-token";

    // points to spend, from an operator's adjustment
    const staff = await post("/admin/api/v1/login", { username: "owner", password: "demo-password-123" });
    await post(`/admin/api/v1/members/${session.member.id}/points-adjustments`, { amount: 50000, reason: "client test" }, staff.token);
    const items = await again.call("get", "/mall/items", { query: { limit: 50 } });
    const item = items.items.find((i) => i.kind !== "physical" && i.affordable);
    result.item = item ? item.id : null;

    const key = newIdempotencyKey();
    const first = await again.call("post", "/mall/redemptions", { body: { item_id: item.id }, idempotencyKey: key });
    const retry = await again.call("post", "/mall/redemptions", { body: { item_id: item.id }, idempotencyKey: key });
    result.same_key = { first: first.id, retry: retry.id };
    result.key_header = sent.filter((s) => s.url === "/api/v1/mall/redemptions").map((s) => s.header["Idempotency-Key"]);

    // the answer of a redemption is lost: redeem() retries with its key and is answered the first order
    loseNextAnswer = true;
    const before = sent.length;
    const lost = await again.redeem({ item_id: item.id, quantity: 1 });
    const attempts = sent.slice(before).map((s) => s.header["Idempotency-Key"]);
    result.lost_answer = { replayed: lost.replayed, attempts: attempts.length, one_key: new Set(attempts).size === 1 };
    const orders = await again.call("get", "/mall/redemptions", { query: { limit: 50 } });
    result.orders = orders.items.length;

    result.refused = await refusal(again.call("post", "/coupons/center/{template_id}/claim", { path: { template_id: 999999 } }));
    result.bad_key = await refusal(again.call("post", "/mall/redemptions", { body: { item_id: item.id }, idempotencyKey: "short" }));
    process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(1);
});
