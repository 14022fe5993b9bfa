/**
 * Compile-time checks of the client against the document: each line under
 * `@ts-expect-error` must be refused by the types (tsc fails if it is accepted), each other
 * line must be accepted. Nothing here runs.
 */
import { ApiError, MemberApi, type Answer, type Schemas } from "./client";

export async function checks(api: MemberApi): Promise<void> {
    // Answers are the document's models.
    const card: Schemas["Card"] = await api.call("get", "/card");
    const points: Answer<"/points", "get"> = await api.call("get", "/points");
    const page: Schemas["CentrePage"] = await api.call("get", "/coupons/center", {
        query: { limit: 20 },
    });
    void [card.card_no, points, page.items];

    // Path parameters are required and typed.
    await api.call("post", "/coupons/center/{template_id}/claim", { path: { template_id: 7 } });
    // @ts-expect-error the template id is missing
    await api.call("post", "/coupons/center/{template_id}/claim");
    // @ts-expect-error an id is a number
    await api.call("get", "/mall/items/{item_id}", { path: { item_id: "7" } });

    // Bodies are the document's request models.
    await api.call("post", "/card", { body: { name: "张三", birthday: "1990-05-17" } });
    // @ts-expect-error the birthday is required to open a card
    await api.call("post", "/card", { body: { name: "张三" } });
    await api.call("post", "/me", { body: { gender: "undisclosed" } });
    // @ts-expect-error wx.request cannot send PATCH; POST /me is the same change
    await api.call("patch", "/me", { body: { gender: "undisclosed" } });

    // A redemption cannot be sent without an Idempotency-Key.
    // @ts-expect-error the key is required
    await api.call("post", "/mall/redemptions", { body: { item_id: 3 } });
    await api.call("post", "/mall/redemptions", { body: { item_id: 3 }, idempotencyKey: "k-0001-k" });
    const { order, replayed } = await api.redeem({ item_id: 3, quantity: 1 });
    void [order.id, order.state, replayed];

    // No such route.
    // @ts-expect-error there is no GET /wallet
    await api.call("get", "/wallet");

    // Refusals carry the stable code.
    try {
        await api.call("post", "/checkins");
    } catch (error) {
        if (error instanceof ApiError && error.code === "already_checked_in") {
            void error.details;
        }
    }
}
