/**
 * @authd/storefront-sdk: a typed client for authd's Storefront API
 * (`/graphql/storefront`), the customer operations of Shopify's Storefront
 * API. No runtime dependencies beyond `fetch`: Node 20+ and browsers.
 */

export type CustomerErrorCode =
  | 'ALREADY_ENABLED'
  | 'BAD_DOMAIN'
  | 'BLANK'
  | 'CONTAINS_HTML_TAGS'
  | 'CONTAINS_URL'
  | 'CUSTOMER_DISABLED'
  | 'INVALID'
  | 'INVALID_MULTIPASS_REQUEST'
  | 'NOT_FOUND'
  | 'PASSWORD_STARTS_OR_ENDS_WITH_WHITESPACE'
  | 'TAKEN'
  | 'TOKEN_INVALID'
  | 'TOO_LONG'
  | 'TOO_SHORT'
  | 'UNIDENTIFIED_CUSTOMER';

/** Why an operation was refused, naming the input at fault. */
export interface CustomerUserError {
  /** Path of the input field, e.g. `["input", "email"]`; null for none. */
  field: string[] | null;
  message: string;
  /** null where the Storefront API has no code (a rate limit). */
  code: CustomerErrorCode | null;
}

export interface Customer {
  id: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  displayName: string;
  phone: string | null;
  acceptsMarketing: boolean;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

export interface AccessToken {
  /** Null in cookie mode: the token lives in an HttpOnly cookie. */
  accessToken: string | null;
  /** ISO 8601: when the token stops working unless renewed. */
  expiresAt: string;
}

export interface CustomerCreateInput {
  email: string;
  password: string;
  firstName?: string;
  lastName?: string;
  /** E.164, e.g. `+16135551111`. */
  phone?: string;
  acceptsMarketing?: boolean;
}

export interface CustomerLoginInput {
  email: string;
  password: string;
}

/** A second factor that finishes a sign-in. */
export type MfaMethod = 'TOTP' | 'RECOVERY_CODE' | 'PASSKEY';

/**
 * What `login` answers for a customer with a second factor: no token yet;
 * finish with `loginMfa({ mfaToken, totp })` (or `recoveryCode`).
 */
export interface MfaChallenge {
  mfaRequired: true;
  /** Opaque, single use, valid 5 minutes. */
  mfaToken: string;
  methods: MfaMethod[];
  accessToken: null;
}

/** A signed-in answer of `login`. */
export interface SignedIn extends AccessToken {
  mfaRequired: false;
}

export interface CustomerLoginMfaInput {
  mfaToken: string;
  /** A six-digit code of the customer's authenticator app. */
  totp?: string;
  /** Or one of their recovery codes. */
  recoveryCode?: string;
}

/** Every field optional; `null` removes a name or the phone. */
export interface CustomerUpdateInput {
  /** A new address: unverified until its mailed link is used. */
  email?: string;
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  password?: string;
  acceptsMarketing?: boolean;
}

export interface ResetResult {
  customer: Customer;
  accessToken: AccessToken;
}

/** A mailing address (Shopify's `MailingAddress`). */
export interface MailingAddress {
  /** `gid://authd/MailingAddress/…`: safe to put in a URL with encodeURIComponent. */
  id: string;
  firstName: string | null;
  lastName: string | null;
  name: string | null;
  company: string | null;
  address1: string | null;
  address2: string | null;
  city: string | null;
  /** The province's name (`Ontario`) and its ISO 3166-2 code (`ON`). */
  province: string | null;
  provinceCode: string | null;
  /** The country's name (`Canada`) and its ISO 3166-1 code (`CA`). */
  country: string | null;
  countryCodeV2: string | null;
  zip: string | null;
  /** E.164. */
  phone: string | null;
  /** The address as lines, in its country's layout. */
  formatted: string[];
}

/**
 * Every field optional. On `update`, a field left out is kept and `null`
 * removes it; `country` and `province` may be names or codes.
 */
export interface MailingAddressInput {
  firstName?: string | null;
  lastName?: string | null;
  company?: string | null;
  address1?: string | null;
  address2?: string | null;
  city?: string | null;
  province?: string | null;
  country?: string | null;
  zip?: string | null;
  phone?: string | null;
}

/** One page of a Relay connection. */
export interface PageOf<T> {
  nodes: T[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

export interface AddressListOptions {
  /** At most 250; 50 when neither `first` nor `last` is given. */
  first?: number;
  after?: string;
  last?: number;
  before?: string;
  /** Newest first. */
  reverse?: boolean;
}

/** An amount as Shopify's `MoneyV2` answers it: `amount` is a decimal string. */
export interface MoneyV2 {
  amount: string;
  currencyCode: string;
}

/** Shopify's `PricingValue`: an amount or a percentage. */
export type PricingValue = MoneyV2 | { percentage: number };

/** One of an order's discounts (Shopify's `DiscountApplication`). */
export interface DiscountApplication {
  /** `AutomaticDiscountApplication`, `DiscountCodeApplication`, `ManualDiscountApplication` or `ScriptDiscountApplication`. */
  kind: string;
  /** The automatic, manual or script discount's title. */
  title: string | null;
  /** The code the customer entered. */
  code: string | null;
  value: PricingValue;
  allocationMethod: string;
  targetSelection: string;
  targetType: string;
}

export interface OrderLineItem {
  title: string;
  variantTitle: string | null;
  quantity: number;
  originalTotalPrice: MoneyV2;
  /** The original total less what discounts took off the line. */
  discountedTotalPrice: MoneyV2;
  discountAllocations: { allocatedAmount: MoneyV2; discountApplication: DiscountApplication }[];
}

/** An order the shop's backend recorded (Shopify's `Order`). */
export interface Order {
  id: string;
  name: string;
  orderNumber: number;
  /** ISO 8601. */
  processedAt: string;
  canceledAt: string | null;
  cancelReason: string | null;
  financialStatus: string | null;
  fulfillmentStatus: string;
  statusUrl: string | null;
  subtotalPrice: MoneyV2 | null;
  totalTax: MoneyV2 | null;
  totalShippingPrice: MoneyV2;
  totalPrice: MoneyV2;
  shippingAddress: MailingAddress | null;
  /** The first 50 lines. */
  lineItems: OrderLineItem[];
  /** The order's discounts (the first 100). */
  discountApplications: DiscountApplication[];
}

export type OrderSortKey = 'ID' | 'PROCESSED_AT' | 'TOTAL_PRICE' | 'RELEVANCE';

export interface OrderListOptions extends AddressListOptions {
  sortKey?: OrderSortKey;
  /**
   * Shopify's search syntax, terms ANDed: `processed_at:>=2026-01-01`,
   * `financial_status:paid`, `fulfillment_status:fulfilled`, `name:#1001`.
   */
  query?: string;
}

/** A value under a `namespace.key` the project declares. */
export interface Metafield {
  id: string;
  namespace: string;
  key: string;
  /** The Shopify metafield type (`single_line_text_field`, `json`, `date`…). */
  type: string;
  /** Always a string, as Shopify's API gives it (`"true"`, `"42"`, JSON text). */
  value: string;
  createdAt: string;
  updatedAt: string;
}

/** Which metafield: `namespace` is `custom` when left out. */
export interface MetafieldIdentifier {
  namespace?: string;
  key: string;
}

/** A value to write under a READ_WRITE key; `type`, when given, must be the declared one. */
export interface MetafieldSetInput extends MetafieldIdentifier {
  type?: string;
  value: string;
}

export interface StorefrontClientOptions {
  /** `your-store.example` → `https://your-store.example/graphql/storefront`. */
  storeDomain?: string;
  /** The whole endpoint URL; overrides `storeDomain` (local development). */
  endpoint?: string;
  /** The project's public key (`pk_…`). */
  apiKey: string | undefined;
  /**
   * `'include'`: cookie mode for browsers on another origin (the project
   * has `cookieSessions`); tokens then live in an HttpOnly cookie and are
   * never seen by scripts.
   */
  credentials?: RequestCredentials;
  /** Another `fetch` (defaults to the global one). */
  fetch?: typeof fetch;
}

/** Base of every error the SDK throws. */
export class StorefrontError extends Error {}

/** The API refused the operation: `userErrors` say why. */
export class StorefrontUserError extends StorefrontError {
  readonly userErrors: CustomerUserError[];
  constructor(userErrors: CustomerUserError[]) {
    super(userErrors.map((e) => e.message).join('; ') || 'refused');
    this.name = 'StorefrontUserError';
    this.userErrors = userErrors;
  }
}

/** The request did not get an answer: network, HTTP or GraphQL failure. */
export class StorefrontTransportError extends StorefrontError {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** `extensions.code` of the first GraphQL error, when there was one. */
  readonly code: string | undefined;
  constructor(message: string, status?: number, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorefrontTransportError';
    this.status = status;
    this.code = code;
  }
}

const CUSTOMER_FIELDS =
  'id email firstName lastName displayName phone acceptsMarketing createdAt updatedAt';
const ERRORS = 'customerUserErrors { field message code }';

// --- passkeys (WebAuthn): the browser's JSON form of its options and answers

/** A passkey just added: its id, name and, with the customer's first second
 * factor, ten recovery codes (shown this once). */
export interface AddedPasskey {
  passkeyId: string;
  name: string;
  recoveryCodes: string[] | null;
}

type Json = Record<string, unknown>;

/** The browser's WebAuthn, or a clear error where there is none (Node). */
function webauthn(): CredentialsContainer {
  const credentials = (globalThis as { navigator?: Navigator }).navigator?.credentials;
  if (!credentials?.create) {
    throw new StorefrontError('passkeys need a browser (navigator.credentials)');
  }
  return credentials;
}

function fromBase64url(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return bytes.buffer;
}

function toBase64url(buffer: ArrayBuffer | null): string | null {
  if (!buffer) return null;
  let text = '';
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** authd's options (`{ publicKey }`, binary fields base64url) as the
 * browser takes them; `mediation` is left out (a button, not autofill). */
function publicKeyOptions(options: Json, create: boolean): Json {
  const pk = { ...(options.publicKey as Json) };
  pk.challenge = fromBase64url(pk.challenge as string);
  const ids = (list: unknown) =>
    ((list as { id: string }[] | undefined) ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
  if (create) {
    pk.user = { ...(pk.user as Json), id: fromBase64url((pk.user as { id: string }).id) };
    pk.excludeCredentials = ids(pk.excludeCredentials);
  } else {
    pk.allowCredentials = ids(pk.allowCredentials);
  }
  return pk;
}

/** The browser's credential as the JSON authd takes (`response: JSON!`). */
function credentialJSON(credential: Credential | null): Json {
  if (!credential) throw new StorefrontError('the browser gave no passkey');
  const c = credential as PublicKeyCredential;
  const response: Json = { clientDataJSON: toBase64url(c.response.clientDataJSON) };
  if ('attestationObject' in c.response) {
    const r = c.response as AuthenticatorAttestationResponse;
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = r.getTransports?.() ?? [];
  } else {
    const r = c.response as AuthenticatorAssertionResponse;
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    response.userHandle = toBase64url(r.userHandle);
  }
  return { id: c.id, rawId: toBase64url(c.rawId), type: c.type, response, extensions: {} };
}
const DISCOUNT_FIELDS = `__typename allocationMethod targetSelection targetType
  value { __typename ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } }
  ... on DiscountCodeApplication { code } ... on AutomaticDiscountApplication { title }
  ... on ManualDiscountApplication { title } ... on ScriptDiscountApplication { title }`;
const ORDER_FIELDS = `id name orderNumber processedAt canceledAt cancelReason financialStatus
  fulfillmentStatus statusUrl subtotalPrice { amount currencyCode } totalTax { amount currencyCode }
  totalShippingPrice { amount currencyCode } totalPrice { amount currencyCode }
  discountApplications(first: 100) { nodes { ${DISCOUNT_FIELDS} } }
  lineItems(first: 50) { nodes { title variantTitle quantity originalTotalPrice { amount currencyCode }
    discountedTotalPrice { amount currencyCode }
    discountAllocations { allocatedAmount { amount currencyCode } discountApplication { ${DISCOUNT_FIELDS} } } } }`;

interface RawDiscount {
  __typename: string;
  allocationMethod: string;
  targetSelection: string;
  targetType: string;
  value: { __typename: string; amount?: string; currencyCode?: string; percentage?: number };
  code?: string;
  title?: string;
}

function discount(d: RawDiscount): DiscountApplication {
  const value: PricingValue =
    d.value.__typename === 'PricingPercentageValue'
      ? { percentage: d.value.percentage ?? 0 }
      : { amount: d.value.amount ?? '0', currencyCode: d.value.currencyCode ?? '' };
  return {
    kind: d.__typename,
    title: d.title ?? null,
    code: d.code ?? null,
    value,
    allocationMethod: d.allocationMethod,
    targetSelection: d.targetSelection,
    targetType: d.targetType,
  };
}
const ADDRESS_FIELDS =
  'id firstName lastName name company address1 address2 city province provinceCode country countryCodeV2 zip phone formatted';

/** The header that proves a cookie-authenticated request came from script, not a form. */
export const CSRF_HEADER = 'x-authd-csrf';

interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export class StorefrontClient {
  readonly endpoint: string;
  readonly customer: CustomerApi;
  private readonly apiKey: string;
  private readonly credentials: RequestCredentials | undefined;
  private readonly fetchImpl: typeof fetch;
  private token: string | null = null;

  constructor(options: StorefrontClientOptions) {
    if (!options.apiKey) {
      throw new StorefrontError('apiKey is required (the project’s public key, pk_…)');
    }
    if (options.endpoint) {
      this.endpoint = options.endpoint;
    } else if (options.storeDomain) {
      const domain = options.storeDomain.replace(/^https?:\/\//, '').replace(/\/+$/, '');
      this.endpoint = `https://${domain}/graphql/storefront`;
    } else {
      throw new StorefrontError('storeDomain or endpoint is required');
    }
    this.apiKey = options.apiKey;
    this.credentials = options.credentials;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.customer = new CustomerApi(this);
  }

  /** The token later requests act with (`null` signs out locally). */
  setAccessToken(token: string | null): void {
    this.token = token;
  }

  getAccessToken(): string | null {
    return this.token;
  }

  /** Sends one GraphQL operation; throws StorefrontTransportError on failure. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-api-key': this.apiKey,
      [CSRF_HEADER]: '1',
    };
    let response: Response;
    try {
      response = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
        ...(this.credentials ? { credentials: this.credentials } : {}),
      });
    } catch (cause) {
      throw new StorefrontTransportError(`cannot reach ${this.endpoint}`, undefined, undefined, {
        cause,
      });
    }
    let body: GraphQLResponse<T>;
    try {
      body = (await response.json()) as GraphQLResponse<T>;
    } catch (cause) {
      throw new StorefrontTransportError(
        `HTTP ${response.status}: the answer is not JSON`,
        response.status,
        undefined,
        { cause },
      );
    }
    const first = body.errors?.[0];
    if (first) {
      throw new StorefrontTransportError(first.message, response.status, first.extensions?.code);
    }
    if (!response.ok || body.data === undefined) {
      throw new StorefrontTransportError(`HTTP ${response.status}`, response.status);
    }
    return body.data;
  }

  /** The token an operation acts with (`null` in cookie mode). */
  tokenForRequest(): string | null {
    return this.token;
  }
}

type Payload<K extends string, T> = Record<K, T & { customerUserErrors?: CustomerUserError[]; userErrors?: { field: string[] | null; message: string }[] }>;

/** The payload of `field`, or a StorefrontUserError with its errors. */
function unwrap<K extends string, T>(data: Payload<K, T>, field: K): T {
  const payload = data[field];
  const errors: CustomerUserError[] =
    payload.customerUserErrors ??
    (payload.userErrors ?? []).map((e) => ({ field: e.field, message: e.message, code: null }));
  if (errors.length > 0) {
    throw new StorefrontUserError(errors);
  }
  return payload;
}

export class CustomerApi {
  /** The signed-in customer's mailing addresses. */
  readonly addresses: AddressApi;
  /** The signed-in customer's orders. */
  readonly orders: OrderApi;
  /** The signed-in customer's metafields. */
  readonly metafields: MetafieldApi;

  constructor(private readonly client: StorefrontClient) {
    this.addresses = new AddressApi(client);
    this.orders = new OrderApi(client);
    this.metafields = new MetafieldApi(client);
  }

  /** Creates a customer (it does not sign them in: see `login`). */
  async create(input: CustomerCreateInput): Promise<Customer> {
    const data = await this.client.request<Payload<'customerCreate', { customer: Customer }>>(
      `mutation CustomerCreate($input: CustomerCreateInput!) {
        customerCreate(input: $input) { customer { ${CUSTOMER_FIELDS} } ${ERRORS} }
      }`,
      { input },
    );
    return unwrap(data, 'customerCreate').customer;
  }

  /**
   * Signs in: the token to pass to `setAccessToken` and when it expires
   * (`mfaRequired: false`), or, for a customer with a second factor, the
   * challenge `loginMfa` finishes (`mfaRequired: true`).
   */
  async login(input: CustomerLoginInput): Promise<SignedIn | MfaChallenge> {
    type T = {
      customerAccessToken: AccessToken | null;
      customerUserErrors: (CustomerUserError & {
        mfaToken: string | null;
        mfaMethods: MfaMethod[] | null;
      })[];
    };
    const data = await this.client.request<Payload<'customerAccessTokenCreate', T>>(
      `mutation CustomerAccessTokenCreate($input: CustomerAccessTokenCreateInput!) {
        customerAccessTokenCreate(input: $input) {
          customerAccessToken { accessToken expiresAt }
          customerUserErrors { field message code mfaToken mfaMethods }
        }
      }`,
      { input },
    );
    const challenge = data.customerAccessTokenCreate.customerUserErrors.find((e) => e.mfaToken);
    if (challenge?.mfaToken) {
      return {
        mfaRequired: true,
        mfaToken: challenge.mfaToken,
        methods: challenge.mfaMethods ?? [],
        accessToken: null,
      };
    }
    const token = unwrap(data, 'customerAccessTokenCreate').customerAccessToken;
    if (!token) {
      throw new StorefrontTransportError('customerAccessTokenCreate answered no token');
    }
    return { ...token, mfaRequired: false };
  }

  /** Finishes a `login` that answered `mfaRequired: true`. */
  async loginMfa(input: CustomerLoginMfaInput): Promise<AccessToken> {
    type T = { customerAccessToken: AccessToken };
    const data = await this.client.request<Payload<'customerAccessTokenCreateWithMfa', T>>(
      `mutation CustomerAccessTokenCreateWithMfa($t: String!, $totp: String, $rc: String) {
        customerAccessTokenCreateWithMfa(mfaToken: $t, totp: $totp, recoveryCode: $rc) {
          customerAccessToken { accessToken expiresAt } ${ERRORS}
        }
      }`,
      { t: input.mfaToken, totp: input.totp ?? null, rc: input.recoveryCode ?? null },
    );
    return unwrap(data, 'customerAccessTokenCreateWithMfa').customerAccessToken;
  }

  /**
   * Signs in with a passkey (in a browser: `navigator.credentials.get`).
   * With `email`, that customer's passkeys are offered; without, any the
   * browser holds for the site. Answers the token as `login` does (in
   * cookie mode the cookie carries it).
   */
  async loginWithPasskey(input: { email?: string } = {}): Promise<AccessToken> {
    const credentials = webauthn();
    type S = { options: Json };
    const start = await this.client.request<Payload<'customerPasskeyLoginStart', S>>(
      `mutation CustomerPasskeyLoginStart($email: String) {
        customerPasskeyLoginStart(email: $email) { options ${ERRORS} }
      }`,
      { email: input.email ?? null },
    );
    const options = unwrap(start, 'customerPasskeyLoginStart').options;
    const publicKey = publicKeyOptions(options, false) as unknown as PublicKeyCredentialRequestOptions;
    const answer = credentialJSON(await credentials.get({ publicKey }));
    type T = { customerAccessToken: AccessToken };
    const data = await this.client.request<Payload<'customerAccessTokenCreateWithPasskey', T>>(
      `mutation CustomerAccessTokenCreateWithPasskey($r: JSON!) {
        customerAccessTokenCreateWithPasskey(response: $r) {
          customerAccessToken { accessToken expiresAt } ${ERRORS}
        }
      }`,
      { r: answer },
    );
    return unwrap(data, 'customerAccessTokenCreateWithPasskey').customerAccessToken;
  }

  /**
   * Adds a passkey for the signed-in customer (in a browser:
   * `navigator.credentials.create`); from then on `loginWithPasskey` signs
   * them in, and a password sign-in asks for a second factor.
   */
  async addPasskey(input: { name?: string } = {}): Promise<AddedPasskey> {
    const credentials = webauthn();
    const token = this.client.tokenForRequest() ?? '';
    type S = { options: Json };
    const start = await this.client.request<Payload<'customerPasskeyRegisterStart', S>>(
      `mutation CustomerPasskeyRegisterStart($token: String!) {
        customerPasskeyRegisterStart(customerAccessToken: $token) { options ${ERRORS} }
      }`,
      { token },
    );
    const options = unwrap(start, 'customerPasskeyRegisterStart').options;
    const publicKey = publicKeyOptions(options, true) as unknown as PublicKeyCredentialCreationOptions;
    const answer = credentialJSON(await credentials.create({ publicKey }));
    type T = { passkeyId: string; name: string; recoveryCodes: string[] | null };
    const data = await this.client.request<Payload<'customerPasskeyRegisterFinish', T>>(
      `mutation CustomerPasskeyRegisterFinish($token: String!, $r: JSON!, $name: String) {
        customerPasskeyRegisterFinish(customerAccessToken: $token, response: $r, name: $name) {
          passkeyId name recoveryCodes ${ERRORS}
        }
      }`,
      { token, r: answer, name: input.name ?? null },
    );
    const added = unwrap(data, 'customerPasskeyRegisterFinish');
    return { passkeyId: added.passkeyId, name: added.name, recoveryCodes: added.recoveryCodes };
  }

  /** The signed-in customer, or null. */
  async getCurrent(): Promise<Customer | null> {
    const token = this.client.tokenForRequest();
    const data = await this.client.request<{ customer: Customer | null }>(
      `query GetCustomer($token: String) {
        customer(customerAccessToken: $token) { ${CUSTOMER_FIELDS} }
      }`,
      { token },
    );
    return data.customer;
  }

  /** Extends the token's life; throws once it has expired or was deleted. */
  async renew(): Promise<AccessToken> {
    type T = { customerAccessToken: AccessToken };
    const data = await this.client.request<Payload<'customerAccessTokenRenew', T>>(
      `mutation CustomerAccessTokenRenew($token: String!) {
        customerAccessTokenRenew(customerAccessToken: $token) {
          customerAccessToken { accessToken expiresAt } userErrors { field message }
        }
      }`,
      { token: this.client.tokenForRequest() ?? '' },
    );
    return unwrap(data, 'customerAccessTokenRenew').customerAccessToken;
  }

  /** Signs out: the token stops working everywhere, at once. */
  async logout(): Promise<void> {
    const data = await this.client.request<Payload<'customerAccessTokenDelete', object>>(
      `mutation CustomerAccessTokenDelete($token: String!) {
        customerAccessTokenDelete(customerAccessToken: $token) {
          deletedAccessToken userErrors { field message }
        }
      }`,
      { token: this.client.tokenForRequest() ?? '' },
    );
    this.client.setAccessToken(null);
    unwrap(data, 'customerAccessTokenDelete');
  }

  /** Mails a reset link; the same answer whether or not the address has an account. */
  async recover(email: string): Promise<void> {
    const data = await this.client.request<Payload<'customerRecover', object>>(
      `mutation CustomerRecover($email: String!) {
        customerRecover(email: $email) { ${ERRORS} }
      }`,
      { email },
    );
    unwrap(data, 'customerRecover');
  }

  /** Sets a new password with the mailed link and signs in with the new token. */
  async resetByUrl(resetUrl: string, password: string): Promise<ResetResult> {
    type T = { customer: Customer; customerAccessToken: AccessToken };
    const data = await this.client.request<Payload<'customerResetByUrl', T>>(
      `mutation CustomerResetByUrl($resetUrl: URL!, $password: String!) {
        customerResetByUrl(resetUrl: $resetUrl, password: $password) {
          customer { ${CUSTOMER_FIELDS} } customerAccessToken { accessToken expiresAt } ${ERRORS}
        }
      }`,
      { resetUrl, password },
    );
    const done = unwrap(data, 'customerResetByUrl');
    this.client.setAccessToken(done.customerAccessToken.accessToken);
    return { customer: done.customer, accessToken: done.customerAccessToken };
  }

  /** Sets an invited customer's first password with the mailed link and signs in. */
  async activateByUrl(activationUrl: string, password: string): Promise<ResetResult> {
    type T = { customer: Customer; customerAccessToken: AccessToken };
    const data = await this.client.request<Payload<'customerActivateByUrl', T>>(
      `mutation CustomerActivateByUrl($activationUrl: URL!, $password: String!) {
        customerActivateByUrl(activationUrl: $activationUrl, password: $password) {
          customer { ${CUSTOMER_FIELDS} } customerAccessToken { accessToken expiresAt } ${ERRORS}
        }
      }`,
      { activationUrl, password },
    );
    const done = unwrap(data, 'customerActivateByUrl');
    this.client.setAccessToken(done.customerAccessToken.accessToken);
    return { customer: done.customer, accessToken: done.customerAccessToken };
  }

  /**
   * Changes the signed-in customer's profile or password. A new password
   * ends every token: the client switches to the new one it answers.
   */
  async update(input: CustomerUpdateInput): Promise<Customer> {
    type T = { customer: Customer; customerAccessToken: AccessToken | null };
    const data = await this.client.request<Payload<'customerUpdate', T>>(
      `mutation CustomerUpdate($token: String!, $customer: CustomerUpdateInput!) {
        customerUpdate(customerAccessToken: $token, customer: $customer) {
          customer { ${CUSTOMER_FIELDS} } customerAccessToken { accessToken expiresAt } ${ERRORS}
        }
      }`,
      { token: this.client.tokenForRequest() ?? '', customer: input },
    );
    const done = unwrap(data, 'customerUpdate');
    if (done.customerAccessToken?.accessToken) {
      this.client.setAccessToken(done.customerAccessToken.accessToken);
    }
    return done.customer;
  }
}

/** The signed-in customer's mailing addresses (`customer.addresses`). */
export class AddressApi {
  constructor(private readonly client: StorefrontClient) {}

  private token(): string {
    return this.client.tokenForRequest() ?? '';
  }

  /** A page of addresses, oldest first, and the default one; null when signed out. */
  async list(
    options: AddressListOptions = {},
  ): Promise<(PageOf<MailingAddress> & { defaultAddress: MailingAddress | null }) | null> {
    const { first, last, after, before, reverse } = options;
    const page = first === undefined && last === undefined ? { first: 50 } : { first, last };
    type T = {
      customer: {
        defaultAddress: MailingAddress | null;
        addresses: PageOf<MailingAddress>;
      } | null;
    };
    const data = await this.client.request<T>(
      `query CustomerAddresses($token: String, $first: Int, $last: Int, $after: String, $before: String, $reverse: Boolean) {
        customer(customerAccessToken: $token) {
          defaultAddress { ${ADDRESS_FIELDS} }
          addresses(first: $first, last: $last, after: $after, before: $before, reverse: $reverse) {
            nodes { ${ADDRESS_FIELDS} }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          }
        }
      }`,
      { token: this.client.tokenForRequest(), ...page, after, before, reverse: reverse ?? false },
    );
    if (!data.customer) {
      return null;
    }
    return { ...data.customer.addresses, defaultAddress: data.customer.defaultAddress };
  }

  /** Adds an address; the first one becomes the default. */
  async create(address: MailingAddressInput): Promise<MailingAddress> {
    type T = { customerAddress: MailingAddress };
    const data = await this.client.request<Payload<'customerAddressCreate', T>>(
      `mutation CustomerAddressCreate($token: String!, $address: MailingAddressInput!) {
        customerAddressCreate(customerAccessToken: $token, address: $address) {
          customerAddress { ${ADDRESS_FIELDS} } ${ERRORS}
        }
      }`,
      { token: this.token(), address },
    );
    return unwrap(data, 'customerAddressCreate').customerAddress;
  }

  /** Changes the fields given; the others are kept. */
  async update(id: string, address: MailingAddressInput): Promise<MailingAddress> {
    type T = { customerAddress: MailingAddress };
    const data = await this.client.request<Payload<'customerAddressUpdate', T>>(
      `mutation CustomerAddressUpdate($token: String!, $id: ID!, $address: MailingAddressInput!) {
        customerAddressUpdate(customerAccessToken: $token, id: $id, address: $address) {
          customerAddress { ${ADDRESS_FIELDS} } ${ERRORS}
        }
      }`,
      { token: this.token(), id, address },
    );
    return unwrap(data, 'customerAddressUpdate').customerAddress;
  }

  /** Deletes an address; deleting the default makes the newest remaining one the default. */
  async delete(id: string): Promise<void> {
    const data = await this.client.request<Payload<'customerAddressDelete', object>>(
      `mutation CustomerAddressDelete($token: String!, $id: ID!) {
        customerAddressDelete(customerAccessToken: $token, id: $id) {
          deletedCustomerAddressId ${ERRORS}
        }
      }`,
      { token: this.token(), id },
    );
    unwrap(data, 'customerAddressDelete');
  }

  /** Makes an address the default. */
  async setDefault(id: string): Promise<void> {
    const data = await this.client.request<Payload<'customerDefaultAddressUpdate', object>>(
      `mutation CustomerDefaultAddressUpdate($token: String!, $id: ID!) {
        customerDefaultAddressUpdate(customerAccessToken: $token, addressId: $id) {
          customer { id } ${ERRORS}
        }
      }`,
      { token: this.token(), id },
    );
    unwrap(data, 'customerDefaultAddressUpdate');
  }
}

type RawLine = Omit<OrderLineItem, 'discountAllocations'> & {
  discountAllocations: { allocatedAmount: MoneyV2; discountApplication: RawDiscount }[];
};

type RawOrder = Omit<Order, 'lineItems' | 'shippingAddress' | 'discountApplications'> & {
  lineItems: { nodes: RawLine[] };
  discountApplications: { nodes: RawDiscount[] };
  shippingAddress: MailingAddress | null;
};

function order(n: RawOrder): Order {
  return {
    ...n,
    discountApplications: n.discountApplications.nodes.map(discount),
    lineItems: n.lineItems.nodes.map((l) => ({
      ...l,
      discountAllocations: l.discountAllocations.map((a) => ({
        allocatedAmount: a.allocatedAmount,
        discountApplication: discount(a.discountApplication),
      })),
    })),
  };
}

/** The signed-in customer's orders (`customer.orders`). */
export class OrderApi {
  constructor(private readonly client: StorefrontClient) {}

  /** A page of orders (50 by default, at most 250) and how many match; null when signed out. */
  async list(
    options: OrderListOptions = {},
  ): Promise<(PageOf<Order> & { totalCount: number }) | null> {
    const { first, last, after, before, reverse, sortKey, query } = options;
    const page = first === undefined && last === undefined ? { first: 50 } : { first, last };
    type T = {
      customer: {
        orders: {
          nodes: RawOrder[];
          pageInfo: PageOf<Order>['pageInfo'];
          totalCount: string;
        };
      } | null;
    };
    const data = await this.client.request<T>(
      `query CustomerOrders($token: String, $first: Int, $last: Int, $after: String,
          $before: String, $reverse: Boolean, $sortKey: OrderSortKeys, $query: String) {
        customer(customerAccessToken: $token) {
          orders(first: $first, last: $last, after: $after, before: $before, reverse: $reverse,
                 sortKey: $sortKey, query: $query) {
            nodes { ${ORDER_FIELDS} shippingAddress { ${ADDRESS_FIELDS} } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            totalCount
          }
        }
      }`,
      {
        token: this.client.tokenForRequest(),
        ...page,
        after,
        before,
        reverse: reverse ?? false,
        sortKey: sortKey ?? 'ID',
        query,
      },
    );
    if (!data.customer) {
      return null;
    }
    const o = data.customer.orders;
    return {
      nodes: o.nodes.map(order),
      pageInfo: o.pageInfo,
      // UnsignedInt64 comes as a string.
      totalCount: Number(o.totalCount),
    };
  }

  /** Every matching order, page after page (`first` is the page size). */
  async *all(options: Omit<OrderListOptions, 'after' | 'before' | 'last'> = {}): AsyncGenerator<Order> {
    let after: string | undefined;
    for (;;) {
      const page = await this.list(after === undefined ? options : { ...options, after });
      if (!page) {
        return;
      }
      yield* page.nodes;
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) {
        return;
      }
      after = page.pageInfo.endCursor;
    }
  }
}

const METAFIELD_FIELDS = 'id namespace key type value createdAt updatedAt';

/** The signed-in customer's metafields (`customer.metafields`, `customerMetafieldsSet`). */
export class MetafieldApi {
  constructor(private readonly client: StorefrontClient) {}

  /**
   * The values under `identifiers`, in their order: null where there is none
   * (or the key is not declared). Null when signed out. At most 250.
   */
  async get(identifiers: MetafieldIdentifier[]): Promise<(Metafield | null)[] | null> {
    type T = { customer: { metafields: (Metafield | null)[] } | null };
    const data = await this.client.request<T>(
      `query CustomerMetafields($token: String, $identifiers: [HasMetafieldsIdentifier!]!) {
        customer(customerAccessToken: $token) {
          metafields(identifiers: $identifiers) { ${METAFIELD_FIELDS} }
        }
      }`,
      { token: this.client.tokenForRequest(), identifiers },
    );
    return data.customer ? data.customer.metafields : null;
  }

  /**
   * Sets values under keys the project declares READ_WRITE, all or none;
   * a refusal throws StorefrontUserError with the path (`["metafields", "0", "value"]`).
   */
  async set(values: MetafieldSetInput[]): Promise<Metafield[]> {
    type T = { metafields: Metafield[] };
    const data = await this.client.request<Payload<'customerMetafieldsSet', T>>(
      `mutation CustomerMetafieldsSet($token: String!, $metafields: [CustomerMetafieldsSetInput!]!) {
        customerMetafieldsSet(customerAccessToken: $token, metafields: $metafields) {
          metafields { ${METAFIELD_FIELDS} } ${ERRORS}
        }
      }`,
      { token: this.client.tokenForRequest() ?? '', metafields: values },
    );
    return unwrap(data, 'customerMetafieldsSet').metafields;
  }
}
