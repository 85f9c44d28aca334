/* global setTimeout, crypto */
// Jibu phone simulator: plain browser JavaScript, no build step. It posts dials and texts to its own
// server-side endpoints (api/ussd, api/sms), which hand them to the gateway as a provider's webhook would
// arrive; it holds no webhook secret. It polls the gateway's event feed to show what each step did.

const $ = (id) => document.getElementById(id);
const USSD_CODE = /^\*[0-9*]+#$/;
const USSD_LIMIT = 160;
const GSM7 = new Set([
  ...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
]);
const GSM7_EXT = new Set([...'\f^{}\\[~]|€']);

const state = {
  config: { phones: [], ussdCode: '*384*12#', masked: false },
  session: null, // { id, path: [] } while a USSD dialogue is open
  since: 0,
  dhis2Ids: new Set(), // DHIS2 job ids queued for this number, to match their "written" events
  seen: [], // every feed event, so switching number or "all" re-renders
};

const phone = () => $('custom').value.trim() || $('number').value;
const postJson = (path, body) =>
  fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** Split an SMS into the parts a provider bills, as the gateway's measure does (GSM-7 or UCS-2). */
function smsParts(text) {
  const chars = [...text];
  const gsm = chars.every((c) => GSM7.has(c) || GSM7_EXT.has(c));
  const cost = (c) => (gsm ? (GSM7_EXT.has(c) ? 2 : 1) : c.length);
  const units = chars.reduce((n, c) => n + cost(c), 0);
  const single = gsm ? 160 : 70;
  if (units <= single) return { encoding: gsm ? 'GSM-7' : 'UCS-2', units, parts: [text] };
  const per = gsm ? 153 : 67;
  const parts = [];
  let cur = '';
  let n = 0;
  for (const c of chars) {
    if (n + cost(c) > per) {
      parts.push(cur);
      cur = '';
      n = 0;
    }
    cur += c;
    n += cost(c);
  }
  if (cur) parts.push(cur);
  return { encoding: gsm ? 'GSM-7' : 'UCS-2', units, parts };
}

/** Show one USSD screen as the handset would, with its length against the 160-character limit. */
function showScreen(text, status) {
  $('screen-state').textContent = status;
  const pre = $('screen-text');
  pre.replaceChildren();
  if (text.length > USSD_LIMIT) {
    // The gateway pages long menus itself; anything past 160 here is a bug worth seeing.
    pre.append(
      text.slice(0, USSD_LIMIT),
      el('mark', { class: 'overflow', title: 'beyond 160 characters' }, text.slice(USSD_LIMIT)),
    );
  } else {
    pre.append(text);
  }
  $('screen-meta').textContent =
    `${text.length}/${USSD_LIMIT} characters${text.length > USSD_LIMIT ? ' (too long!)' : ''}`;
  $('screen').classList.toggle('ended', status.startsWith('Session ended'));
}

async function ussdHop(text) {
  const res = await postJson('api/ussd', {
    sessionId: state.session.id,
    serviceCode: state.session.code,
    phone: phone(),
    text,
  });
  const raw = await res.text();
  if (!raw.startsWith('CON ') && !raw.startsWith('END ')) {
    state.session = null;
    showScreen(raw || `HTTP ${res.status}`, `Error ${res.status}`);
    return;
  }
  const end = raw.startsWith('END ');
  if (end) state.session = null;
  showScreen(raw.slice(4), end ? 'Session ended (END)' : 'Waiting for your answer (CON)');
}

async function dial(code) {
  state.session = { id: `ATUid_web_${crypto.randomUUID().replace(/-/g, '')}`, code, path: [] };
  showScreen(`Calling ${code}…`, 'Dialling');
  await ussdHop('');
}

async function answer(input) {
  state.session.path.push(input);
  await ussdHop(state.session.path.join('*'));
}

async function sendSms(text) {
  const from = phone();
  addMessage('out', text);
  const res = await postJson('api/sms', { id: `web-${crypto.randomUUID()}`, phone: from, text });
  if (!res.ok) addMessage('error', `Not accepted: HTTP ${res.status} ${await res.text()}`);
}

function addMessage(kind, text) {
  const p = smsParts(text);
  const body = el('div', { class: 'text' });
  p.parts.forEach((part, i) => {
    if (i > 0)
      body.append(
        el('span', { class: 'page-break', role: 'separator', 'aria-label': `part ${i + 1}` }, `— part ${i + 1} —`),
      );
    body.append(part);
  });
  const who = kind === 'out' ? 'You' : kind === 'in' ? 'Jibu' : 'Error';
  const n = [...text].length;
  const meta = `${n} character${n === 1 ? '' : 's'} · ${p.encoding} · ${p.parts.length} SMS`;
  $('inbox').append(
    el('li', { class: `msg ${kind}` }, el('span', { class: 'who' }, who), body, el('span', { class: 'meta' }, meta)),
  );
  $('inbox').lastElementChild.scrollIntoView({ block: 'nearest' });
}

function mine(e) {
  if ($('all-numbers').checked) return true;
  const me = phone();
  if (e.to === me || e.phone === me) return true;
  return Array.isArray(e.ids) && e.ids.some((id) => state.dhis2Ids.has(id));
}

function details(summary, value) {
  return el('details', {}, el('summary', {}, summary), el('pre', {}, JSON.stringify(value, null, 2)));
}

/** One effect as a feed entry; unknown kinds are shown whole, so new effects need no page change. */
function describe(e) {
  const time = new Date(e.at).toLocaleTimeString();
  const head = (title) => el('p', { class: 'head' }, el('strong', {}, title), ` · ${time}`);
  switch (e.type) {
    case 'sms.queued':
      return [head(`SMS queued to ${e.to}${e.purpose ? ` (${e.purpose})` : ''}`), el('p', { class: 'text' }, e.text)];
    case 'sms.sent':
      return [
        head(
          `SMS sent to ${e.to} via ${e.provider}${e.segments ? `, ${e.segments} segment${e.segments > 1 ? 's' : ''}` : ''}`,
        ),
        el('p', { class: 'text' }, e.text),
      ];
    case 'sms.skipped':
      return [head(`SMS not sent to ${e.to}`), el('p', {}, e.reason)];
    case 'dhis2.queued':
      return [head(`DHIS2 write queued: ${e.op}`), el('p', {}, `ref ${e.ref}`), details('Payload', e.payload)];
    case 'dhis2.written':
      return [
        head(`DHIS2 write ${e.status}`),
        el('p', {}, e.ids.join(', ')),
        ...(e.requestPayload === undefined ? [] : [details('Request', e.requestPayload)]),
      ];
    case 'dhis2.failed':
      return [head(`DHIS2 write failed${e.permanent ? ' (dead letter)' : ', will retry'}`), el('p', {}, e.error)];
    case 'timer.set':
      return [head('Timer set'), el('p', {}, `fires ${new Date(e.fireAt).toLocaleString()}`)];
    default:
      return [head(e.type), details('Event', e)];
  }
}

const effectItem = (e) =>
  el('li', { class: `effect ${e.type.replace('.', '-')}`, 'data-type': e.type, 'data-id': e.id ?? '' }, ...describe(e));

/** A queued SMS that has since been sent is shown once, as sent. */
const superseded = (e) => e.type === 'sms.queued' && state.seen.some((x) => x.type === 'sms.sent' && x.id === e.id);

/** The whole feed again (another number, or "every number" toggled); newest first. */
function renderFeed() {
  $('feed').replaceChildren(
    ...state.seen
      .filter((e) => mine(e) && !superseded(e))
      .map(effectItem)
      .reverse(),
  );
}

/** One new event: added on top (so screen readers announce only it), replacing its queued entry. */
function addEffect(e) {
  if (!mine(e)) return;
  if (e.type === 'sms.sent') {
    for (const li of $('feed').querySelectorAll('li[data-type="sms.queued"]')) if (li.dataset.id === e.id) li.remove();
  }
  $('feed').prepend(effectItem(e));
}

async function poll() {
  try {
    const res = await fetch(`api/events?since=${state.since}`, { headers: { accept: 'application/json' } });
    if (res.ok) {
      const { next, events } = await res.json();
      // A restarted gateway counts from zero again.
      if (next < state.since) state.since = 0;
      else state.since = next;
      for (const e of events) {
        state.seen.push(e);
        if (e.type === 'dhis2.queued' && e.phone === phone()) state.dhis2Ids.add(e.id);
        if (e.type === 'sms.sent' && e.to === phone()) addMessage('in', e.text);
        addEffect(e);
      }
      if (state.seen.length > 500) state.seen.splice(0, state.seen.length - 500);
    }
  } catch {
    // The gateway may be restarting; keep polling.
  }
  setTimeout(poll, 300);
}

async function submit(kind) {
  const input = $('input');
  const value = input.value.trim();
  try {
    if (kind === 'sms') {
      if (value) await sendSms(value);
    } else if (state.session) {
      await answer(value);
    } else if (USSD_CODE.test(value)) {
      await dial(value);
    } else if (kind === 'auto' && value) {
      await sendSms(value);
    } else {
      showScreen(`Type a USSD code such as ${state.config.ussdCode}, then Call.`, 'Ready');
    }
  } catch (err) {
    state.session = null;
    showScreen(String(err), 'Error');
  }
  input.value = '';
  input.focus();
}

function fillNumbers() {
  const select = $('number');
  const groups = {
    caregiver: el('optgroup', { label: 'Caregivers' }),
    caseWorker: el('optgroup', { label: 'Case workers' }),
  };
  for (const p of state.config.phones)
    groups[p.role]?.append(el('option', { value: p.phone }, `${p.label} ${p.phone}`));
  select.replaceChildren(...Object.values(groups).filter((g) => g.children.length));
  const note = () => {
    $('number-note').textContent = state.config.phones.find((p) => p.phone === select.value)?.note ?? '';
  };
  select.addEventListener('change', () => {
    note();
    switchNumber();
  });
  note();
}

function switchNumber() {
  hangup();
  $('inbox').replaceChildren();
  renderFeed();
}

function hangup() {
  state.session = null;
  showScreen('Dial a USSD code or type an SMS.', 'Ready');
}

async function start() {
  const res = await fetch('api/config');
  state.config = await res.json();
  $('input').placeholder = state.config.ussdCode;
  fillNumbers();
  $('custom').addEventListener('change', switchNumber);
  $('all-numbers').addEventListener('change', renderFeed);
  $('entry').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submit('auto');
  });
  $('call').addEventListener('click', () => {
    if (!state.session && !$('input').value.trim()) $('input').value = state.config.ussdCode;
    void submit('ussd');
  });
  $('send-sms').addEventListener('click', () => void submit('sms'));
  $('hangup').addEventListener('click', hangup);
  $('backspace').addEventListener('click', () => {
    $('input').value = $('input').value.slice(0, -1);
    $('input').focus();
  });
  for (const b of document.querySelectorAll('.keypad button')) {
    b.addEventListener('click', () => {
      $('input').value += b.dataset.key;
    });
  }
  void poll();
}

void start();
