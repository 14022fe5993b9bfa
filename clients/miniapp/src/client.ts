/**
 * A small client of the wxmember mini-program API (`/api/v1`) over `wx.request`, typed by the
 * API document: paths, path parameters, query, request and answer bodies all come from
 * `schema.d.ts`, which `./dev clients` generates from `docs/openapi/miniapp.json`.
 *
 *     const api = new MemberApi({ baseUrl: "https://member.example.com" });
 *     const card = await api.call("get", "/card");             // Schemas["Card"]
 *     await api.call("post", "/coupons/center/{template_id}/claim", { path: { template_id: 7 } });
 *     const { order } = await api.redeem({ item_id: 3, quantity: 1 });
 *
 * Login is `wx.login` → `POST /session`; the token is kept in storage and sent as a bearer
 * token; an expired or unknown token logs in again once. Every refusal rejects with an
 * `ApiError` carrying the stable `code` of the error body.
 */
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type ErrorBody = Schemas["Error"];

/** The methods of the document. `wx.request` cannot send PATCH: `PATCH /me` is also `POST /me`. */
export type Method = "get" | "post" | "put" | "delete";

type Operation<P extends keyof paths, M extends Method> = paths[P][M] extends infer O
    ? O extends { responses: unknown }
        ? O
        : never
    : never;

/** The paths that answer a method. */
export type PathsFor<M extends Method> = {
    [P in keyof paths]: paths[P][M] extends { responses: unknown } ? P : never;
}[keyof paths];

type Json<R> = R extends { content: { "application/json": infer B } } ? B : undefined;
type Success<O> = O extends { responses: infer R }
    ? { [S in keyof R]: S extends 200 | 201 | 204 ? Json<R[S]> : never }[keyof R]
    : never;

/** The body of a successful answer of `method path`. */
export type Answer<P extends keyof paths, M extends Method> = Success<Operation<P, M>>;

type Parameters<O> = O extends { parameters: infer T } ? T : never;

type PathPart<O> = Parameters<O> extends { path: infer T } ? { path: T } : { path?: never };

type QueryPart<O> = Parameters<O> extends { query: infer Q }
    ? { query: Q }
    : Parameters<O> extends { query?: never }
      ? { query?: never }
      : { query?: NonNullable<Parameters<O> extends { query?: infer Q } ? Q : never> };

type BodyPart<O> = O extends { requestBody: { content: { "application/json": infer B } } }
    ? { body: B }
    : O extends { requestBody?: never }
      ? { body?: never }
      : O extends { requestBody?: { content: { "application/json": infer B } } }
        ? { body?: B }
        : { body?: never };

type KeyPart<O> = Parameters<O> extends { header: { "Idempotency-Key": string } }
    ? { idempotencyKey: string }
    : { idempotencyKey?: never };

/** What a call of `method path` must (and may) carry. */
export type CallOptions<P extends keyof paths, M extends Method> = PathPart<Operation<P, M>> &
    QueryPart<Operation<P, M>> &
    BodyPart<Operation<P, M>> &
    KeyPart<Operation<P, M>>;

type Optional<T> = {} extends T ? [options?: T] : [options: T];

/** A refusal of the API: the HTTP status and the error body's stable code. */
export class ApiError extends Error {
    readonly status: number;
    readonly code: string;
    readonly details: Record<string, unknown> | undefined;
    /** Seconds to wait before trying again, from `Retry-After` (429 and 503). */
    readonly retryAfter: number | undefined;

    constructor(status: number, body: ErrorBody, retryAfter?: number) {
        super(body.error.message);
        this.name = "ApiError";
        this.status = status;
        this.code = body.error.code;
        this.details = body.error.details;
        this.retryAfter = retryAfter;
    }
}

/** The request never got an answer (no network, a timeout): safe to retry with the same key. */
export class NetworkError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "NetworkError";
    }
}

export interface MemberApiOptions {
    /** The service's origin, for example `https://member.example.com`; `/api/v1` is added. */
    baseUrl: string;
    /** Where the session token is kept between launches. */
    storageKey?: string;
    /** Milliseconds before a request is given up (wx.request's own default is 60 s). */
    timeout?: number;
}

/** What `send` reads of a call's options, whichever operation they were checked against. */
interface SendOptions {
    path?: Record<string, unknown>;
    query?: Record<string, unknown>;
    body?: unknown;
    idempotencyKey?: string;
}

interface Raw {
    status: number;
    data: unknown;
    header: Record<string, string>;
}

const SESSION_ENDED = new Set(["invalid_token", "missing_token", "token_expired"]);
const KEY_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A fresh `Idempotency-Key`: 32 letters and digits, chosen once per intended change. */
export function newIdempotencyKey(): string {
    let key = "";
    for (let i = 0; i < 32; i += 1) {
        key += KEY_ALPHABET[Math.floor(Math.random() * KEY_ALPHABET.length)];
    }
    return key;
}

function header(headers: Record<string, string>, name: string): string | undefined {
    const wanted = name.toLowerCase();
    for (const key of Object.keys(headers)) {
        if (key.toLowerCase() === wanted) {
            return headers[key];
        }
    }
    return undefined;
}

function isErrorBody(data: unknown): data is ErrorBody {
    if (typeof data !== "object" || data === null || !("error" in data)) {
        return false;
    }
    const error: unknown = data.error;
    return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

function queryString(query: Record<string, unknown> | undefined): string {
    if (query === undefined) {
        return "";
    }
    const parts: string[] = [];
    for (const [name, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) {
            parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
        }
    }
    return parts.length > 0 ? `?${parts.join("&")}` : "";
}

function fillPath(template: string, values: Record<string, unknown> | undefined): string {
    return template.replace(/{(\w+)}/g, (_, name: string) => {
        const value = values?.[name];
        if (value === undefined) {
            throw new TypeError(`missing path parameter ${name}`);
        }
        return encodeURIComponent(String(value));
    });
}

export class MemberApi {
    private readonly base: string;
    private readonly storageKey: string;
    private readonly timeout: number;
    private token: string | undefined;
    private loggingIn: Promise<Schemas["Session"]> | undefined;

    constructor(options: MemberApiOptions) {
        this.base = `${options.baseUrl.replace(/\/+$/, "")}/api/v1`;
        this.storageKey = options.storageKey ?? "wxmember.session";
        this.timeout = options.timeout ?? 15000;
        const kept: unknown = wx.getStorageSync(this.storageKey);
        this.token = typeof kept === "string" && kept !== "" ? kept : undefined;
    }

    /**
     * Log in: a `wx.login` code exchanged for a session token. Concurrent callers share one
     * login. The answer says whether the member has opened a card yet.
     */
    login(): Promise<Schemas["Session"]> {
        if (this.loggingIn === undefined) {
            this.loggingIn = this.freshSession().finally(() => {
                this.loggingIn = undefined;
            });
        }
        return this.loggingIn;
    }

    /** End every session of the member and forget the token. */
    async logout(): Promise<void> {
        if (this.token !== undefined) {
            await this.call("post", "/session/logout");
        }
        this.forget();
    }

    /**
     * Call an operation of the document: `path`, `query`, `body` and `idempotencyKey` are
     * required exactly where the operation requires them.
     */
    async call<M extends Method, P extends PathsFor<M>>(
        method: M,
        path: P,
        ...[options]: Optional<CallOptions<P, M>>
    ): Promise<Answer<P, M>> {
        // The options were checked against the operation by the signature above.
        const answer = await this.send(method, path, (options ?? {}) as SendOptions);
        return answer.data as Answer<P, M>;
    }

    /**
     * Redeem an item for points. The key is chosen once and sent again on each retry, so a
     * redemption whose answer was lost is answered, not made twice; `replayed` says so.
     */
    async redeem(
        request: Schemas["Redemption"],
        attempts = 3,
    ): Promise<{ order: Schemas["MallOrder"]; replayed: boolean }> {
        const idempotencyKey = newIdempotencyKey();
        for (let attempt = 1; ; attempt += 1) {
            try {
                const answer = await this.send("post", "/mall/redemptions", {
                    body: request,
                    idempotencyKey,
                });
                const replayed = header(answer.header, "Idempotent-Replayed") === "true";
                return { order: answer.data as Schemas["MallOrder"], replayed };
            } catch (error) {
                if (!(error instanceof NetworkError) || attempt >= attempts) {
                    throw error;
                }
            }
        }
    }

    private async send(
        method: Method,
        path: string,
        options: SendOptions,
    ): Promise<Raw> {
        if (this.token === undefined) {
            await this.login();
        }
        const url = this.base + fillPath(path, options.path) + queryString(options.query);
        const headers: Record<string, string> = {};
        if (options.idempotencyKey !== undefined) {
            headers["Idempotency-Key"] = options.idempotencyKey;
        }
        let answer = await this.request(method, url, options.body, headers, true);
        if (answer.status === 401 && isErrorBody(answer.data)) {
            if (SESSION_ENDED.has(answer.data.error.code)) {
                this.forget();
                await this.login();
                answer = await this.request(method, url, options.body, headers, true);
            }
        }
        return this.checked(answer);
    }

    private async freshSession(): Promise<Schemas["Session"]> {
        const code = await new Promise<string>((resolve, reject) => {
            wx.login({
                timeout: this.timeout,
                success: (result) => resolve(result.code),
                fail: (failure) => reject(new NetworkError(failure.errMsg)),
            });
        });
        const body: Schemas["LoginBody"] = { code };
        const answer = this.checked(
            await this.request("post", `${this.base}/session`, body, {}, false),
        );
        const session = answer.data as Schemas["Session"];
        this.token = session.token;
        wx.setStorageSync(this.storageKey, session.token);
        return session;
    }

    private forget(): void {
        this.token = undefined;
        wx.removeStorageSync(this.storageKey);
    }

    private checked(answer: Raw): Raw {
        if (answer.status >= 200 && answer.status < 300) {
            return answer;
        }
        const retryAfter = Number(header(answer.header, "Retry-After"));
        const body: ErrorBody = isErrorBody(answer.data)
            ? answer.data
            : { error: { code: "unexpected_answer", message: `HTTP ${answer.status}` } };
        throw new ApiError(answer.status, body, Number.isFinite(retryAfter) ? retryAfter : undefined);
    }

    private request(
        method: Method,
        url: string,
        body: unknown,
        headers: Record<string, string>,
        authenticated: boolean,
    ): Promise<Raw> {
        const header: Record<string, string> = { ...headers };
        if (authenticated && this.token !== undefined) {
            header.Authorization = `Bearer ${this.token}`;
        }
        if (body !== undefined) {
            header["Content-Type"] = "application/json";
        }
        return new Promise<Raw>((resolve, reject) => {
            wx.request({
                url,
                method: method.toUpperCase() as "GET" | "POST" | "PUT" | "DELETE",
                data: body === undefined ? undefined : JSON.stringify(body),
                header,
                dataType: "json",
                timeout: this.timeout,
                success: (result) =>
                    resolve({
                        status: result.statusCode,
                        data: result.data,
                        header: result.header as Record<string, string>,
                    }),
                fail: (failure) => reject(new NetworkError(failure.errMsg)),
            });
        });
    }
}
