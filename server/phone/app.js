/* fengqiao's phone page: sign in, my orders, one order, its actions; offline queue in IndexedDB.
   Plain JavaScript, no build step, nothing fetched from elsewhere. The API is docs/field.md's /v1/field/.
   Every text from the server is put in the page with textContent (never as HTML). */
'use strict';
(function () {
  const API = '/v1/field/';
  const TZ = 'Asia/Shanghai';
  const MAX_PHOTOS = 4;
  const MAX_PHOTO_BYTES = 8 * 1024 * 1024;
  const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

  // ---- strings ------------------------------------------------------------------------------------------------
  const STR = {
    zh: {
      app: '枫桥联动', loading: '正在加载…', switch: 'EN', back: '返回',
      'signin.title': '登录', 'signin.login': '登录名', 'signin.password': '密码', 'signin.go': '登录',
      'signin.first': '第一次登录？用一次性验证码', 'signin.again': '已设好密码？直接登录',
      'signin.code': '一次性验证码', 'signin.new': '新密码（至少 8 位）', 'signin.new2': '再输一次新密码',
      'signin.go_first': '设置密码并登录', 'signin.mismatch': '两次输入的新密码不一样',
      'signin.short': '新密码至少 8 位', 'signin.need': '请填写登录名和密码', 'signin.need_code': '请填写登录名和验证码',
      'signin.locked': '账户已锁定，{until} 后再试', 'signin.offline': '离线：联网后才能登录',
      'signin.hint': '登录名和一次性验证码由指挥中心发放。',
      signout: '退出', 'signout.confirm': '还有 {n} 项操作没发到服务器，退出后会丢掉。仍要退出？',
      'list.title': '我的工单', 'list.empty': '现在没有要处理的工单', 'list.refresh': '刷新',
      'list.who': '{name} · {unit}', 'list.lead': '（负责人）', 'list.held': '{name} 处理中', 'list.free': '未指派',
      'a.dispatched': '待签收', 'a.signed': '已签收', 'a.arrived': '已到场', 'a.fed_back': '已反馈', 'a.returned': '已退单', 'o.cancel': '已撤单', 'o.close': '已办结',
      'due.sign': '签收', 'due.arrive': '到场', 'due.feedback': '反馈',
      'due.left': '{what}剩 {d}', 'due.over': '{what}超时 {d}', 'due.at': '{what}时限 {t}',
      'dur.min': '{m} 分', 'dur.hm': '{h} 小时 {m} 分', 'dur.dh': '{d} 天 {h} 小时',
      'd.said': '来电内容', 'd.where': '地点', 'd.address': '地址', 'd.town': '乡镇', 'd.phone': '电话',
      'd.call': '拨打', 'd.received': '来电时间', 'd.deadlines': '时限', 'd.holder': '处理人',
      'd.location': '到场位置', 'd.distance': '距报警地址约 {m} 米', 'd.coords': '{lat}, {lon}（精度 {acc} 米）',
      'd.coords_noacc': '{lat}, {lon}', 'd.photos': '照片（{n}）', 'd.timeline': '经过', 'd.pending': '还没发到服务器',
      'd.failed': '服务器没有接受', 'd.discard': '删除', 'd.done': '已完成', 'd.no_location': '到场时未提供位置',
      'd.none': '—', 'd.partial': '离线：这张工单还没在这部手机上打开过，只有列表里的摘要',
      'act.sign': '签收', 'act.arrive': '到场', 'act.feedback': '反馈', 'act.return': '退单', 'act.extend': '延期',
      'act.note': '过程反馈', 'act.hand': '指派',
      'q.waiting': '待发送', 'q.failed': '被拒收', 'q.refused': '被拒收：{action} — {detail}', 'q.sending': '发送中',
      'banner.offline': '离线：显示的是 {t} 的内容', 'banner.offline_now': '离线：没有网络',
      'banner.waiting': '{n} 项操作待发送，还没到服务器', 'banner.failed': '{n} 项操作被服务器拒收，请查看',
      'banner.retry': '重试',
      'sent.sign': '已签收', 'sent.arrive': '已到场', 'sent.feedback': '已反馈', 'sent.return': '已退单',
      'sent.extend': '已申请延期', 'sent.note': '已记下', 'sent.hand': '已指派',
      'sent.queued': '没有网络：已存在手机上，联网后自动发送', 'sent.after_signin': '已存在手机上，重新登录后发送', 'sent.duplicate': '服务器已有这项操作',
      'sent.conflict': '已记录，但与别人的操作冲突：{detail}', 'sent.conflict_plain': '已记录，但与别人的操作冲突',
      'sent.redundant': '别人已完成这一步，已记录',
      cancel: '取消', send: '发送',
      'arrive.title': '到场', 'arrive.locating': '正在获取位置…', 'arrive.denied': '没有位置权限：你拒绝了定位',
      'arrive.unavailable': '手机给不出位置', 'arrive.timeout': '定位超时', 'arrive.nogeo': '这个浏览器不能定位',
      'arrive.without': '不带位置上报到场', 'arrive.retry': '再试定位', 'arrive.got': '已定位（精度 {acc} 米），正在上报…',
      'fb.title': '办结反馈', 'fb.result': '处理结果', 'fb.resolved': '已解决', 'fb.unresolved': '未解决',
      'fb.phrases': '常用语（点一下加入）', 'fb.text': '处理情况', 'fb.photos': '照片（最多 4 张）',
      'fb.photos_req': '照片（这类工单至少 1 张，最多 4 张）', 'fb.add_photo': '拍照 / 选照片',
      'fb.need_result': '请选择处理结果', 'fb.need_text': '请写明处理情况', 'fb.need_photo': '这类工单须附至少一张照片',
      'fb.too_many': '最多 4 张照片', 'fb.too_big': '照片超过 8 MB', 'fb.not_image': '只能用 JPEG、PNG 或 WebP 照片',
      'fb.photo_bad': '请先删掉出错的照片', 'fb.uploading': '上传中', 'fb.uploaded': '已上传', 'fb.on_phone': '存在手机上',
      'fb.remove': '删除照片',
      'ret.title': '退单', 'ret.reason': '退单理由（例如：不属于本单位职责）', 'ret.need': '请写明退单理由',
      'ext.title': '申请延期', 'ext.hours': '延长多少小时', 'ext.reason': '理由', 'ext.need': '请写明延期理由',
      'ext.bad_hours': '小时数应在 1 到 336 之间',
      'note.title': '过程反馈', 'note.text': '进展情况（不改变工单状态）', 'note.need': '请写进展情况',
      'hand.title': '指派给', 'hand.me': '（我）', 'hand.note': '交代（可不填）', 'hand.need': '请选一个人', 'hand.none': '本单位还没有其他成员',
      'link.expired': '链接已过期', 'link.refused': '链接不能用',
      'link.help': '请在工单列表里找这张工单，或请指挥中心重新发送。',
      'err.net': '连不上服务器', 'err.http': '服务器出错（{status}）', 'err.gone': '这张工单已不归你处理',
      'err.session': '登录已过期，请重新登录',
    },
    en: {
      app: 'Fengqiao field', loading: 'Loading…', switch: '中文', back: 'Back',
      'signin.title': 'Sign in', 'signin.login': 'Login', 'signin.password': 'Password', 'signin.go': 'Sign in',
      'signin.first': 'First time? Use your one-time code', 'signin.again': 'Password already set? Sign in',
      'signin.code': 'One-time code', 'signin.new': 'New password (8 characters or more)', 'signin.new2': 'New password again',
      'signin.go_first': 'Set password and sign in', 'signin.mismatch': 'The two new passwords differ',
      'signin.short': 'The new password needs at least 8 characters', 'signin.need': 'Enter your login and password',
      'signin.need_code': 'Enter your login and the code',
      'signin.locked': 'Account locked; try again after {until}', 'signin.offline': 'Offline: signing in needs the network',
      'signin.hint': 'The command centre gives you your login and one-time code.',
      signout: 'Sign out', 'signout.confirm': 'Not on the server yet: {n}. Signing out loses them. Sign out anyway?',
      'list.title': 'My orders', 'list.empty': 'Nothing to do right now', 'list.refresh': 'Refresh',
      'list.who': '{name} · {unit}', 'list.lead': ' (lead)', 'list.held': 'held by {name}', 'list.free': 'not handed out',
      'a.dispatched': 'To sign', 'a.signed': 'Signed', 'a.arrived': 'On site', 'a.fed_back': 'Fed back', 'a.returned': 'Returned', 'o.cancel': 'Cancelled', 'o.close': 'Closed',
      'due.sign': 'Sign', 'due.arrive': 'Arrive', 'due.feedback': 'Feedback',
      'due.left': '{what}: {d} left', 'due.over': '{what}: {d} overdue', 'due.at': '{what} by {t}',
      'dur.min': '{m} min', 'dur.hm': '{h} h {m} min', 'dur.dh': '{d} d {h} h',
      'd.said': 'What the caller said', 'd.where': 'Where', 'd.address': 'Address', 'd.town': 'Town', 'd.phone': 'Phone',
      'd.call': 'Call', 'd.received': 'Call at', 'd.deadlines': 'Deadlines', 'd.holder': 'Held by',
      'd.location': 'Arrival location', 'd.distance': 'about {m} m from the address', 'd.coords': '{lat}, {lon} (±{acc} m)',
      'd.coords_noacc': '{lat}, {lon}', 'd.photos': 'Photos ({n})', 'd.timeline': 'Timeline', 'd.pending': 'Not on the server yet',
      'd.failed': 'Refused by the server', 'd.discard': 'Discard', 'd.done': 'done', 'd.no_location': 'No location given on arrival',
      'd.none': '—', 'd.partial': 'Offline: this order was never opened on this phone; only the list\'s summary is here',
      'act.sign': 'Sign', 'act.arrive': 'Arrive', 'act.feedback': 'Feed back', 'act.return': 'Return', 'act.extend': 'Extend',
      'act.note': 'Note', 'act.hand': 'Hand to',
      'q.waiting': 'Waiting to send', 'q.failed': 'Refused', 'q.refused': 'Refused: {action} — {detail}', 'q.sending': 'Sending',
      'banner.offline': 'Offline: showing what was fetched at {t}', 'banner.offline_now': 'Offline: no network',
      'banner.waiting': 'Waiting to send: {n} (not on the server yet)', 'banner.failed': 'Refused by the server: {n} (see the order)',
      'banner.retry': 'Retry',
      'sent.sign': 'Signed', 'sent.arrive': 'Arrival recorded', 'sent.feedback': 'Feedback sent', 'sent.return': 'Returned',
      'sent.extend': 'Extension requested', 'sent.note': 'Note recorded', 'sent.hand': 'Handed over',
      'sent.queued': 'No network: kept on this phone, sent when the signal returns',
      'sent.after_signin': 'Kept on this phone; sent once you sign in again',
      'sent.duplicate': 'The server already has this action',
      'sent.conflict': 'Recorded, but in conflict with someone else\'s action: {detail}',
      'sent.conflict_plain': 'Recorded, but in conflict with someone else\'s action',
      'sent.redundant': 'Someone already did this; recorded',
      cancel: 'Cancel', send: 'Send',
      'arrive.title': 'Arrive', 'arrive.locating': 'Getting your location…', 'arrive.denied': 'No location: permission was refused',
      'arrive.unavailable': 'The phone cannot tell its location', 'arrive.timeout': 'Location timed out',
      'arrive.nogeo': 'This browser cannot give a location',
      'arrive.without': 'Report arrival without location', 'arrive.retry': 'Try again', 'arrive.got': 'Located (±{acc} m), reporting…',
      'fb.title': 'Feedback', 'fb.result': 'Result', 'fb.resolved': 'Resolved', 'fb.unresolved': 'Unresolved',
      'fb.phrases': 'Quick phrases (tap to add)', 'fb.text': 'What was done', 'fb.photos': 'Photos (up to 4)',
      'fb.photos_req': 'Photos (at least 1 for this kind of order, up to 4)', 'fb.add_photo': 'Take / choose a photo',
      'fb.need_result': 'Choose a result', 'fb.need_text': 'Say what was done', 'fb.need_photo': 'This kind of order needs at least one photo',
      'fb.too_many': 'At most 4 photos', 'fb.too_big': 'Photo over 8 MB', 'fb.not_image': 'Only JPEG, PNG or WebP photos',
      'fb.photo_bad': 'Remove the photos with errors first', 'fb.uploading': 'uploading', 'fb.uploaded': 'uploaded',
      'fb.on_phone': 'on phone', 'fb.remove': 'Remove photo',
      'ret.title': 'Return the order', 'ret.reason': 'Reason (e.g. not our responsibility)', 'ret.need': 'Give a reason',
      'ext.title': 'Ask for more time', 'ext.hours': 'How many more hours', 'ext.reason': 'Reason', 'ext.need': 'Give a reason',
      'ext.bad_hours': 'Hours must be between 1 and 336',
      'note.title': 'Progress note', 'note.text': 'Progress (changes no status)', 'note.need': 'Write the progress',
      'hand.title': 'Hand to', 'hand.me': ' (me)', 'hand.note': 'Note (optional)', 'hand.need': 'Choose a person', 'hand.none': 'Your unit has no other members yet',
      'link.expired': 'This link has expired', 'link.refused': 'This link cannot be used',
      'link.help': 'Find the order in your list, or ask the command centre to send it again.',
      'err.net': 'Cannot reach the server', 'err.http': 'Server error ({status})', 'err.gone': 'This order is no longer yours to handle',
      'err.session': 'Your session ended: please sign in again',
    },
  };

  function pickLang() {
    const saved = safeGet('fq_lang');
    if (saved === 'zh' || saved === 'en') return saved;
    const q = new URLSearchParams(location.search).get('lang');
    if (q === 'en' || q === 'zh') return q;
    return /^en\b/i.test(navigator.language || '') ? 'en' : 'zh';
  }
  function safeGet(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }
  function safeSet(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode */ } }
  let lang = pickLang();
  function t(key, vars) {
    let s = STR[lang][key];
    if (s === undefined) s = STR.zh[key] !== undefined ? STR.zh[key] : key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined || vars[k] === null ? m : String(vars[k])));
    return s;
  }

  // ---- DOM helper: children that are strings become text nodes (never parsed as HTML) -------------------------------
  function h(tag, props) {
    const el = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach((x) => add(el, x)); return; }
    el.append(c instanceof Node ? c : String(c));
  }
  const $ = (sel) => document.querySelector(sel);

  // ---- times (UTC in the API, Asia/Shanghai on the page) ------------------------------------------------------------
  function parseTime(s) {
    if (!s) return null;
    const ms = Date.parse(String(s).replace(/(\.\d{3})\d+/, '$1'));
    return Number.isNaN(ms) ? null : ms;
  }
  const fmtCache = {};
  function fmt(opts) {
    const k = lang + JSON.stringify(opts);
    if (!fmtCache[k]) fmtCache[k] = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'zh-CN', Object.assign({ timeZone: TZ, hourCycle: 'h23' }, opts));
    return fmtCache[k];
  }
  function dayKey(ms) { return fmt({ year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms); }
  function fmtHM(ms) { return fmt({ hour: '2-digit', minute: '2-digit' }).format(ms); }
  function fmtWhen(s) {
    const ms = typeof s === 'number' ? s : parseTime(s);
    if (ms === null) return t('d.none');
    if (dayKey(ms) === dayKey(now())) return fmtHM(ms);
    return fmt({ month: '2-digit', day: '2-digit' }).format(ms) + ' ' + fmtHM(ms);
  }
  function fmtDur(ms) {
    const m = Math.max(1, Math.round(Math.abs(ms) / 60000));
    if (m < 60) return t('dur.min', { m });
    if (m < 48 * 60) return t('dur.hm', { h: Math.floor(m / 60), m: m % 60 });
    return t('dur.dh', { d: Math.floor(m / 1440), h: Math.floor((m % 1440) / 60) });
  }
  let skew = 0; // server clock minus this phone's clock
  const now = () => Date.now() + skew;

  // ---- the API ------------------------------------------------------------------------------------------------------
  class NetError extends Error {}
  class ApiError extends Error {
    constructor(status, detail, field, data) { super(detail); this.status = status; this.detail = detail; this.field = field || null; this.data = data || {}; }
  }
  const st = {
    me: null, csrf: null, members: [], orders: null, order: null, offlineAt: null, link: null, view: 'boot',
    queue: [], blobUrls: {},
  };
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json', 'Accept-Language': lang === 'en' ? 'en' : 'zh-CN' };
    if (method !== 'GET' && st.csrf) headers['X-CSRF-Token'] = st.csrf;
    let payload;
    if (opts.raw) { headers['Content-Type'] = opts.type; payload = opts.raw; }
    else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
    } catch (e) {
      throw new NetError(String(e));
    }
    if (res.headers.get('X-FQ-Offline')) throw new NetError('offline');
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.ok) {
      if (data === null || typeof data !== 'object') throw new NetError('not ours'); // a captive portal's page
      // When an answer came from the service worker's cache, say when it was fetched: the page notes that time
      // itself (in its own, server-corrected, clock) at every fresh answer; the worker's stamp is the fallback.
      const cached = res.headers.get('X-FQ-Cached-At');
      const mark = 'fq_at:' + path;
      if (method === 'GET' && !cached) safeSet(mark, String(now()));
      const at = cached ? Number(safeGet(mark)) || parseTime(cached) : null;
      return { status: res.status, data, cachedAt: at };
    }
    const detail = data && typeof data.detail === 'string' ? data.detail : t('err.http', { status: res.status });
    throw new ApiError(res.status, detail, data && data.field, data);
  }

  // ---- IndexedDB: the queue of actions and the photos taken for them (a memory fallback where there is none) --------
  const mem = { queue: new Map(), blobs: new Map() };
  let dbp = null;
  function openDb() {
    if (!dbp) {
      dbp = new Promise((resolve) => {
        let r;
        try { r = indexedDB.open('fengqiao-field', 1); } catch (e) { resolve(null); return; }
        r.onupgradeneeded = () => {
          r.result.createObjectStore('queue', { keyPath: 'key' });
          r.result.createObjectStore('blobs', { keyPath: 'id' });
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => resolve(null);
        r.onblocked = () => resolve(null);
      });
    }
    return dbp;
  }
  async function idb(name, mode, fn) {
    const db = await openDb();
    if (!db) return fn(null, mem[name]);
    return new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const req = fn(tx.objectStore(name), null);
      tx.oncomplete = () => resolve(req && req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
  const Q = {
    all: () => idb('queue', 'readonly', (s, m) => (s ? s.getAll() : { result: [...m.values()] })).then((r) => r || []),
    put: (it) => idb('queue', 'readwrite', (s, m) => (s ? s.put(it) : void m.set(it.key, it))),
    del: (k) => idb('queue', 'readwrite', (s, m) => (s ? s.delete(k) : void m.delete(k))),
  };
  const B = {
    put: (id, blob) => idb('blobs', 'readwrite', (s, m) => (s ? s.put({ id, blob }) : void m.set(id, { id, blob }))),
    get: (id) => idb('blobs', 'readonly', (s, m) => (s ? s.get(id) : { result: m.get(id) })).then((r) => (r ? r.blob : null)),
    del: (id) => idb('blobs', 'readwrite', (s, m) => (s ? s.delete(id) : void m.delete(id))),
  };
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID exists only in secure contexts
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }
  async function loadQueue() {
    const all = await Q.all();
    st.queue = all.filter((i) => !st.me || i.user === st.me.id).sort((a, b) => a.created - b.created);
    return st.queue;
  }

  // ---- sending the queue ----------------------------------------------------------------------------------------------
  let flushing = null;
  let retryTimer = null;
  let retryDelay = 0;
  function flush() {
    if (!st.me) return Promise.resolve();
    if (!flushing) flushing = doFlush().finally(() => { flushing = null; });
    return flushing;
  }
  async function doFlush() {
    const items = (await loadQueue()).filter((i) => i.state !== 'failed');
    let stop = false;
    let refusedAny = false;
    for (const it of items) {
      if (stop) break;
      try {
        for (const p of it.photos || []) {
          if (p.meta) continue;
          const blob = await B.get(p.id);
          if (!blob) throw new ApiError(400, t('fb.photo_bad'), 'photos');
          const r = await api('POST', 'photos', undefined, { raw: blob, type: p.mime });
          p.meta = { sha256: r.data.sha256, size: r.data.size, mime: r.data.mime };
          await Q.put(it);
        }
        const body = Object.assign({}, it.body, { key: it.key });
        // An action that waited (no signal) carries the time of the tap, on the server's clock, so a sign-off
        // made in a basement counts from then; a fresh one is dated by the server itself.
        if (it.created && now() - it.created > 120000) body.at = new Date(it.created).toISOString().replace(/Z$/, '000Z');
        // ADAPTER (server/field.py ActionIn): the server takes the photos as a list of their SHA-256 hex strings
        // (docs/field.md's Action left the shape open; the event's payload has {sha256, size, mime}).
        if (it.photos && it.photos.length) body.photos = it.photos.map((p) => p.meta.sha256);
        const r = await api('POST', `orders/${encodeURIComponent(it.order_id)}/actions`, body);
        await Q.del(it.key);
        for (const p of it.photos || []) await B.del(p.id);
        it.result = r.data;
        if (r.data && r.data.order && st.order && st.order.id === it.order_id) st.order = r.data.order;
        sentNotice(it, r.data || {});
      } catch (e) {
        if (e instanceof NetError) { stop = true; break; }
        if (e.status === 401) { stop = true; await sessionEnded(); break; }
        if (e.status === 429 || e.status >= 500) { stop = true; break; }
        if (e.status === 403 && !it.csrfRetried) {
          it.csrfRetried = true; // the CSRF token may have changed (a new session): fetch it and try once more
          await Q.put(it);
          try { await loadMe(); } catch (e2) { stop = true; break; }
          stop = true; setTimeout(flush, 0); break;
        }
        if (watch.has(it.key)) { watch.set(it.key, { error: e }); continue; }
        it.state = 'failed'; it.detail = e.detail || String(e); it.field = e.field || null; it.status = e.status || 0;
        await Q.put(it);
        refusedAny = true;
        toast(t('q.refused', { action: t('act.' + it.action), detail: it.detail }), true);
      }
    }
    await loadQueue();
    renderBanners();
    // Still waiting (no answer, or 429/5xx): try again soon, then less often (2 s, 4 s, … a minute), so a signal
    // that is back before `online` says so, or a server that was briefly down, does not wait for the next event.
    clearTimeout(retryTimer);
    if (stop && st.me && st.queue.some((i) => i.state !== 'failed')) {
      retryDelay = Math.min(60000, retryDelay ? retryDelay * 2 : 2000);
      retryTimer = setTimeout(flush, retryDelay);
    } else retryDelay = 0;
    if (!items.length) return;
    if (st.view === 'list') refreshList(true);
    else if (st.view === 'detail' && st.order) {
      // a sent action's answer carried the order; after a refusal ask what the server now says
      if (refusedAny) loadOrder(st.order.id);
      else renderDetail();
    }
  }
  // Actions the person is waiting on (taken just now): the flush hands their outcome back instead of a toast.
  const watch = new Map();
  function sentNotice(it, res) {
    if (watch.has(it.key)) { watch.set(it.key, { res }); return; }
    toast(resultText(it.action, res), res.state === 'conflict');
  }
  function resultText(action, res) {
    if (res.status === 'duplicate') return t('sent.duplicate');
    if (res.state === 'conflict') return res.detail ? t('sent.conflict', { detail: res.detail }) : t('sent.conflict_plain');
    if (res.state === 'redundant') return t('sent.redundant');
    return t('sent.' + action);
  }

  /* Taking an action: it goes into the queue first (with its key, made now and kept for every retry), then the
     queue is sent. Resolves with {sent, res} | {queued} | an ApiError (refused at once: the sheet shows it). */
  async function act(order, action, body, photos) {
    const it = {
      key: uuid(), user: st.me.id, order_id: order.id, order_no: order.order_no, action,
      body: Object.assign({ action }, body), photos: photos || [], created: now(), state: 'waiting',
    };
    await Q.put(it);
    watch.set(it.key, null);
    await flush();
    // a flush that was already running had read the queue before this item: one more round
    if (watch.get(it.key) === null && navigator.onLine !== false) await flush();
    const r = watch.get(it.key);
    watch.delete(it.key);
    if (r && r.error) {
      // refused while the person is looking at it: out of the queue, and the sheet says why
      await Q.del(it.key);
      await loadQueue();
      renderBanners();
      return r.error;
    }
    return r ? { sent: true, res: r.res } : { queued: true, signedOut: !st.me };
  }

  // ---- the session ------------------------------------------------------------------------------------------------------
  async function loadMe() {
    const r = await api('GET', 'me');
    st.me = r.data.user; st.csrf = r.data.csrf; st.members = r.data.members || [];
    st.offlineAt = r.cachedAt; // null when the server answered
    return r;
  }
  async function sessionEnded() {
    st.me = null; st.csrf = null; st.orders = null; st.order = null;
    await clearApiCache();
    showSignin(t('err.session'));
  }
  async function clearApiCache() {
    try { if (window.caches) await caches.delete('fq-api'); } catch (e) { /* no cache storage */ }
  }

  // ---- chrome: the bar, banners, toast, sheets ---------------------------------------------------------------------------
  function setBar(title, back) {
    $('#title').textContent = title;
    $('#back').hidden = !back;
    $('#back').setAttribute('aria-label', t('back'));
    $('#lang').textContent = t('switch');
    document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
    document.title = title;
  }
  function renderBanners() {
    const box = $('#banners');
    box.replaceChildren();
    if (st.offlineAt || navigator.onLine === false) {
      box.append(h('div', { class: 'banner offline', id: 'offline-banner' },
        h('span', null, st.offlineAt ? t('banner.offline', { t: fmtWhen(st.offlineAt) }) : t('banner.offline_now'))));
    }
    const waiting = st.queue.filter((i) => i.state !== 'failed').length;
    const failed = st.queue.filter((i) => i.state === 'failed').length;
    if (waiting) {
      box.append(h('div', { class: 'banner waiting', id: 'queue-banner' }, h('span', null, t('banner.waiting', { n: waiting })),
        h('button', { type: 'button', onclick: () => flush() }, t('banner.retry'))));
    }
    if (failed) box.append(h('div', { class: 'banner failed', id: 'failed-banner' }, h('span', null, t('banner.failed', { n: failed }))));
  }
  let toastTimer = null;
  function toast(text, bad) {
    const el = $('#toast');
    el.textContent = text;
    el.className = bad ? 'bad' : '';
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, bad ? 6000 : 2600);
  }
  function openSheet(...kids) {
    const s = $('#sheet');
    s.replaceChildren(...kids);
    $('#sheet-wrap').hidden = false;
    const first = s.querySelector('textarea, input, button.choice, button.primary');
    if (first && first.tagName !== 'BUTTON') setTimeout(() => first.focus(), 30);
  }
  function closeSheet() {
    $('#sheet-wrap').hidden = true;
    $('#sheet').replaceChildren();
  }
  function sheetError() { return h('p', { class: 'err', role: 'alert', 'data-error': 'sheet' }); }
  function showError(box, e) {
    box.textContent = e instanceof NetError ? t('err.net') : (e.detail || String(e));
  }

  // ---- sign-in -------------------------------------------------------------------------------------------------------------
  function showSignin(message, first) {
    st.view = 'signin';
    registerWorker();
    setBar(t('app'), false);
    renderBanners();
    const err = h('p', { class: 'err', role: 'alert', id: 'signin-error' }, message || '');
    const login = h('input', { id: 'login', name: 'login', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
    const fields = [h('div', { class: 'field' }, h('label', { for: 'login' }, t('signin.login')), login)];
    let pw, code, np1, np2;
    if (first) {
      code = h('input', { id: 'code', name: 'code', autocomplete: 'one-time-code', autocapitalize: 'none', spellcheck: 'false' });
      np1 = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password' });
      np2 = h('input', { id: 'new-password2', type: 'password', autocomplete: 'new-password' });
      fields.push(
        h('div', { class: 'field' }, h('label', { for: 'code' }, t('signin.code')), code),
        h('div', { class: 'field' }, h('label', { for: 'new-password' }, t('signin.new')), np1),
        h('div', { class: 'field' }, h('label', { for: 'new-password2' }, t('signin.new2')), np2));
    } else {
      pw = h('input', { id: 'password', type: 'password', autocomplete: 'current-password' });
      fields.push(h('div', { class: 'field' }, h('label', { for: 'password' }, t('signin.password')), pw));
    }
    const go = h('button', { type: 'submit', class: 'btn primary big', id: 'signin-go' }, first ? t('signin.go_first') : t('signin.go'));
    const form = h('form', { id: 'signin-form', novalidate: true }, fields, err, go);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      let body;
      if (first) {
        if (!login.value.trim() || !code.value.trim()) { err.textContent = t('signin.need_code'); return; }
        if (np1.value.length < 8) { err.textContent = t('signin.short'); np1.focus(); return; }
        if (np1.value !== np2.value) { err.textContent = t('signin.mismatch'); np2.focus(); return; }
        body = { login: login.value.trim(), code: code.value.trim(), new_password: np1.value };
      } else {
        if (!login.value.trim() || !pw.value) { err.textContent = t('signin.need'); return; }
        body = { login: login.value.trim(), password: pw.value };
      }
      go.disabled = true;
      try {
        const r = await api('POST', 'signin', body);
        st.csrf = r.data.csrf; st.me = r.data.user;
        st.offlineAt = null;
        try { await loadMe(); } catch (e) { /* the sign-in answer is enough to go on */ }
        await afterSignin();
      } catch (e) {
        go.disabled = false;
        if (e instanceof NetError) err.textContent = t('signin.offline');
        else if (e.status === 423 && e.data && e.data.until) err.textContent = e.detail + '\n' + t('signin.locked', { until: fmtWhen(e.data.until) });
        else err.textContent = e.detail;
        if (pw) pw.value = '';
      }
    });
    const toggle = h('button', { type: 'button', class: 'link-btn', id: 'signin-toggle', onclick: () => showSignin('', !first) },
      first ? t('signin.again') : t('signin.first'));
    $('#view').replaceChildren(h('section', { class: 'signin' },
      h('div', { class: 'brand' }, h('img', { src: '/m/icon.svg', alt: '' }), h('h2', null, t('signin.title'))),
      form, toggle, h('p', { class: 'muted small' }, t('signin.hint'))));
  }
  async function afterSignin() {
    await loadQueue();
    renderBanners();
    flush();
    registerWorker();
    if (st.link) {
      const token = st.link;
      st.link = null;
      try { sessionStorage.removeItem('fq_link'); } catch (e) { /* none */ }
      try {
        const r = await api('GET', 'link/' + encodeURIComponent(token));
        history.replaceState(null, '', '/m/#/o/' + encodeURIComponent(r.data.order_id));
        await openOrder(r.data.order_id, true);
        return;
      } catch (e) {
        history.replaceState(null, '', '/m/');
        if (e instanceof NetError) { await showList(); toast(t('err.net'), true); return; }
        const title = e.status === 410 ? t('link.expired') : t('link.refused');
        await showList({ title, detail: e.detail });
        return;
      }
    }
    await route();
  }

  // ---- my orders --------------------------------------------------------------------------------------------------------
  function nextDue(a) {
    if (!a) return null;
    if (a.status === 'dispatched') return ['sign', a.sign_due];
    if (a.status === 'signed' && a.arrive_due) return ['arrive', a.arrive_due];
    if (a.status === 'signed' || a.status === 'arrived') return ['feedback', a.feedback_due];
    return null;
  }
  function dueText(a) {
    const nd = nextDue(a);
    if (!nd) return { text: '', cls: '' };
    const ms = parseTime(nd[1]);
    if (ms === null) return { text: '', cls: '' };
    const left = ms - now();
    const what = t('due.' + nd[0]);
    if (left < 0) return { text: t('due.over', { what, d: fmtDur(left) }), cls: 'late' };
    return { text: t('due.left', { what, d: fmtDur(left) }), cls: left < 15 * 60000 ? 'soon' : '' };
  }
  function pendingFor(orderId) { return st.queue.filter((i) => i.order_id === orderId); }
  // The assignment's status once this phone's waiting actions reach the server.
  function predicted(a, pend) {
    let s = a ? a.status : 'dispatched';
    for (const i of pend) {
      if (i.state === 'failed') continue;
      if (i.action === 'sign' && s === 'dispatched') s = 'signed';
      else if (i.action === 'arrive' && s === 'signed') s = 'arrived';
      else if (i.action === 'feedback' && (s === 'signed' || s === 'arrived')) s = 'fed_back';
      else if (i.action === 'return') s = 'returned';
    }
    return s;
  }
  function statusChip(status, id, label) {
    return h('span', { class: 'chip s-' + status, 'data-status': status, id }, label || t('a.' + status));
  }

  async function showList(linkProblem) {
    st.view = 'list';
    st.order = null;
    setBar(t('app'), false);
    if (linkProblem) st.linkProblem = linkProblem;
    if (st.orders) renderList();
    else $('#view').replaceChildren(h('p', { class: 'pad muted' }, t('loading')));
    await refreshList();
  }
  let early = null; // the list asked for at start, beside `me` (a signed-in phone need not wait for one, then the other)
  async function refreshList(quiet) {
    try {
      const pending = early || api('GET', 'orders');
      early = null;
      const r = await pending;
      st.orders = r.data.orders || [];
      st.offlineAt = r.cachedAt;
      const srv = parseTime(r.data.now);
      if (srv && !r.cachedAt) skew = srv - Date.now();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { await sessionEnded(); return; }
      if (!quiet && !st.orders) {
        $('#view').replaceChildren(h('p', { class: 'pad err', role: 'alert' }, e instanceof NetError ? t('err.net') : e.detail));
      }
      if (e instanceof NetError) st.offlineAt = st.offlineAt || null;
      renderBanners();
      return;
    }
    renderBanners();
    if (st.view === 'list') renderList();
  }
  function renderList() {
    const view = $('#view');
    const scroll = window.scrollY;
    const kids = [];
    if (st.me) {
      kids.push(h('div', { class: 'who' }, t('list.who', { name: st.me.name, unit: st.me.unit_name || st.me.unit }) + (st.me.lead ? t('list.lead') : '')));
    }
    if (st.linkProblem) {
      const lp = st.linkProblem;
      kids.push(h('div', { class: 'pad' }, h('div', { class: 'box', id: 'link-problem', role: 'alert' },
        h('strong', { class: 'err' }, lp.title),
        h('span', null, lp.detail && lp.detail !== lp.title ? lp.detail : t('link.help')))));
    }
    kids.push(h('div', { class: 'list-head' }, h('h2', null, t('list.title') + (st.orders ? ` (${st.orders.length})` : '')),
      h('button', { type: 'button', class: 'btn', id: 'refresh', onclick: () => refreshList() }, t('list.refresh')),
      h('button', { type: 'button', class: 'btn', id: 'signout', onclick: signOut }, t('signout'))));
    const orders = st.orders || [];
    if (!orders.length) kids.push(h('p', { class: 'empty', id: 'empty' }, t('list.empty')));
    const ul = h('ul', { class: 'list', id: 'orders' });
    for (const o of orders) {
      const pend = pendingFor(o.id);
      const a = o.assignment || {};
      const status = predicted(a, pend);
      const d = dueText(Object.assign({}, a, { status }));
      const waiting = pend.filter((i) => i.state !== 'failed').length;
      const failed = pend.length - waiting;
      const holder = a.holder_name ? t('list.held', { name: a.holder_name }) : (st.me && st.me.lead ? t('list.free') : '');
      ul.append(h('li', null, h('button', {
        type: 'button', class: 'card' + (d.cls === 'late' ? ' overdue' : ''), 'data-order': o.id, 'data-no': o.order_no,
        onclick: () => openOrder(o.id),
      },
      h('div', { class: 'row' }, h('span', { class: 'no grow' }, o.order_no), statusChip(status),
        o.role === 'co' ? h('span', { class: 'chip co', 'data-role': 'co' }, o.role_label) : null,
        waiting ? h('span', { class: 'chip wait' }, t('q.waiting')) : null, failed ? h('span', { class: 'chip fail' }, t('q.failed')) : null),
      h('div', { class: 'tag' }, [o.tag_name, o.town_name].filter(Boolean).join(' · ')),
      o.address ? h('div', { class: 'addr' }, o.address) : null,
      h('div', { class: 'row' }, h('span', { class: 'due grow ' + d.cls, 'data-due': '1' }, d.text), holder ? h('span', { class: 'muted small' }, holder) : null))));
    }
    kids.push(ul);
    view.replaceChildren(...kids);
    window.scrollTo(0, scroll);
    if (st.orders && !performance.getEntriesByName('fq:list').length) performance.mark('fq:list'); // make bench reads it
  }
  async function signOut() {
    const n = st.queue.length;
    if (n && !window.confirm(t('signout.confirm', { n }))) return;
    try { await api('POST', 'signout', {}); } catch (e) { /* signed out locally either way */ }
    for (const i of st.queue) { await Q.del(i.key); for (const p of i.photos || []) await B.del(p.id); }
    st.queue = []; st.me = null; st.csrf = null; st.orders = null; st.order = null; st.linkProblem = null; st.offlineAt = null;
    await clearApiCache();
    history.replaceState(null, '', '/m/');
    showSignin();
  }

  // ---- one order --------------------------------------------------------------------------------------------------------
  async function openOrder(id, replace) {
    const hash = '#/o/' + encodeURIComponent(id);
    if (location.hash !== hash) history[replace ? 'replaceState' : 'pushState'](null, '', '/m/' + hash);
    st.view = 'detail';
    st.linkProblem = null;
    if (!st.order || st.order.id !== id) {
      st.order = null;
      setBar(t('app'), true);
      $('#view').replaceChildren(h('p', { class: 'pad muted' }, t('loading')));
    }
    await loadOrder(id);
  }
  async function loadOrder(id) {
    try {
      const r = await api('GET', 'orders/' + encodeURIComponent(id));
      if (st.view !== 'detail') return;
      st.order = r.data;
      st.offlineAt = r.cachedAt;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { await sessionEnded(); return; }
      if (st.order && st.order.id === id) { renderBanners(); renderDetail(); return; }
      const row = e instanceof NetError && (st.orders || []).find((r) => r.id === id);
      if (row) {
        // Offline and never opened here: what the list said. (Details are not fetched ahead: each fetch is
        // a view of the order in the server's access log, and the person did not look at them.)
        st.order = Object.assign({}, row, { partial: true, timeline: [], photos: [] });
        renderBanners();
        renderDetail();
        return;
      }
      setBar(t('app'), true);
      const msg = e instanceof NetError ? t('err.net') : e.status === 404 ? (e.detail || t('err.gone')) : e.detail;
      $('#view').replaceChildren(h('p', { class: 'pad err', role: 'alert', id: 'order-error' }, msg));
      renderBanners();
      return;
    }
    renderBanners();
    renderDetail();
  }
  function photoSrc(sha) { return API + 'photos/' + encodeURIComponent(sha); }
  function stageActions(status) {
    return {
      dispatched: ['sign', 'return', 'note', 'hand'],
      signed: ['arrive', 'feedback', 'extend', 'return', 'note', 'hand'],
      arrived: ['feedback', 'extend', 'note', 'hand'],
    }[status] || [];
  }
  function availableActions(o, pend) {
    const server = o.partial ? (st.me && st.me.lead ? ['hand'] : []) : o.actions || [];
    if (!o.partial && !pend.some((i) => i.state !== 'failed')) return server;
    const a = o.assignment || {};
    const s = predicted(a, pend);
    return stageActions(s).filter((x) => {
      if (x === 'hand' || x === 'note') return server.includes(x);
      if (x === 'arrive') return !!a.arrive_due;
      if (x === 'feedback' && s === 'signed') return !a.arrive_due;
      return true;
    });
  }
  // The order as a whole (`order_status`): cancelled or closed ends the person's work whatever their assignment
  // says; an older server without the field is read from the timeline.
  function endedKind(o) {
    if (o.order_status === 'cancelled') return 'cancel';
    if (o.order_status === 'closed') return 'close';
    if (o.order_status) return null;
    const tl = o.timeline || [];
    for (let i = tl.length - 1; i >= 0; i--) {
      const k = tl[i].kind;
      if (k === 'cancel' || k === 'close') return k;
      if (k === 'reopen' || k === 'reassign' || k === 'dispatch') return null;
    }
    return null;
  }
  function renderDetail() {
    const o = st.order;
    if (!o) return;
    const ended = endedKind(o);
    const a = Object.assign({}, o.assignment || {});
    if (ended) { a.sign_due = a.arrive_due = a.feedback_due = null; }
    const pend = pendingFor(o.id);
    const status = ended ? 'ended' : predicted(a, pend);
    setBar(o.order_no, true);
    const kids = [];
    kids.push(h('div', null, h('h2', { id: 'd-tag' }, o.tag_name || o.tag || ''),
      h('div', { class: 'sub' }, h('span', { class: 'no' }, o.order_no), statusChip(status, 'd-status', ended ? t('o.' + ended) : null),
        o.role === 'co' ? h('span', { class: 'chip co', id: 'd-role' }, o.role_label) : null)));
    const d = dueText(Object.assign({}, a, { status }));
    if (d.text) kids.push(h('div', { class: 'due ' + d.cls, id: 'd-due', 'data-due': '1' }, d.text));

    if (pend.length) {
      const ul = h('ul', { class: 'pending-list' });
      for (const i of pend) {
        const failed = i.state === 'failed';
        ul.append(h('li', { 'data-key': i.key, 'data-state': i.state },
          h('span', { class: 'chip ' + (failed ? 'fail' : 'wait') }, failed ? t('q.failed') : t('q.waiting')),
          h('strong', null, t('act.' + i.action)), h('span', { class: 'muted small' }, fmtWhen(i.created)),
          failed ? h('span', { class: 'err' }, i.detail || '') : null,
          failed ? h('button', { type: 'button', class: 'btn danger', onclick: () => discard(i) }, t('d.discard')) : null));
      }
      kids.push(h('section', { class: 'box', id: 'd-pending' }, h('h3', null, pend.some((i) => i.state !== 'failed') ? t('d.pending') : t('d.failed')), ul));
    }

    if (o.partial) kids.push(h('p', { class: 'box muted', id: 'd-partial' }, t('d.partial')));
    kids.push(h('section', { class: 'box' }, h('h3', null, t('d.said')),
      h('p', { class: 'said', id: 'd-said' }, o.description || o.summary || t('d.none'))));

    const phone = o.phone ? String(o.phone) : '';
    // phone_full (server/field.py) says whether `phone` is the whole number; a masked one has '*'
    const full = phone && (o.phone_full === undefined ? !phone.includes('*') : !!o.phone_full);
    const kv = h('dl', { class: 'kv' },
      h('dt', null, t('d.address')), h('dd', { id: 'd-address' }, o.address || t('d.none')),
      h('dt', null, t('d.town')), h('dd', null, o.town_name || o.town || t('d.none')),
      h('dt', null, t('d.phone')), h('dd', null, full
        ? h('a', { class: 'tel', id: 'd-phone', href: 'tel:' + phone.replace(/[^0-9+]/g, '') }, phone + ' · ' + t('d.call'))
        : h('span', { id: 'd-phone' }, phone || t('d.none'))),
      h('dt', null, t('d.received')), h('dd', null, fmtWhen(o.received_at)),
      a.holder_name ? [h('dt', null, t('d.holder')), h('dd', { id: 'd-holder' }, a.holder_name)] : null);
    kids.push(h('section', { class: 'box' }, h('h3', null, t('d.where')), kv));

    const dl = h('ul', { class: 'deadlines', id: 'd-deadlines' });
    const stepDone = { sign: ['signed', 'arrived', 'fed_back'], arrive: ['arrived', 'fed_back'], feedback: ['fed_back'] };
    for (const [what, due] of [['sign', a.sign_due], ['arrive', a.arrive_due], ['feedback', a.feedback_due]]) {
      if (!due) continue;
      const done = stepDone[what].includes(status);
      dl.append(h('li', null, h('span', { class: 'what' }, t('due.' + what)), h('span', null, fmtWhen(due)),
        done ? h('span', { class: 'done' }, '✓ ' + t('d.done')) : null));
    }
    kids.push(h('section', { class: 'box' }, h('h3', null, t('d.deadlines')), dl));

    if (o.location) {
      const L = o.location;
      const lines = [];
      if (L.place) lines.push(h('div', null, L.place));
      if (L.distance_m !== null && L.distance_m !== undefined) lines.push(h('div', { id: 'd-distance' }, t('d.distance', { m: Math.round(L.distance_m) })));
      if (L.lat !== undefined && L.lat !== null) {
        lines.push(h('div', { class: 'muted small' }, L.accuracy_m !== undefined && L.accuracy_m !== null
          ? t('d.coords', { lat: Number(L.lat).toFixed(5), lon: Number(L.lon).toFixed(5), acc: Math.round(L.accuracy_m) })
          : t('d.coords_noacc', { lat: Number(L.lat).toFixed(5), lon: Number(L.lon).toFixed(5) })));
      }
      if (L.no_location) lines.push(h('div', null, t('d.no_location')));
      kids.push(h('section', { class: 'box', id: 'd-location' }, h('h3', null, t('d.location')), lines));
    }
    if (o.photos && o.photos.length) {
      kids.push(h('section', { class: 'box', id: 'd-photos' }, h('h3', null, t('d.photos', { n: o.photos.length })),
        h('div', { class: 'thumbs' }, o.photos.map((p) => h('a', { class: 'thumb', href: photoSrc(p.sha256), target: '_blank', rel: 'noopener' },
          h('img', { src: photoSrc(p.sha256), alt: p.sha256.slice(0, 12), loading: 'lazy' }))))));
    }
    if (o.timeline && o.timeline.length) {
      const ul = h('ol', { class: 'timeline', id: 'd-timeline' });
      for (const ev of o.timeline) {
        const bad = ev.state === 'conflict' || ev.status === 'conflict';
        ul.append(h('li', { class: bad ? 'conflict' : '' }, h('div', { class: 'when' }, fmtWhen(ev.at) + (ev.actor ? ' · ' + ev.actor : '')),
          h('div', { class: 'what' }, ev.label || ev.kind), ev.text ? h('div', { class: 'text' }, ev.text) : null));
      }
      kids.push(h('section', { class: 'box' }, h('h3', null, t('d.timeline')), ul));
    }
    $('#view').replaceChildren(h('article', { class: 'detail', 'data-order': o.id }, kids), actionBar(o, pend));
  }
  function actionBar(o, pend) {
    const acts = availableActions(o, pend);
    if (!acts.length) return h('div', { hidden: true });
    const mainAct = ['sign', 'arrive', 'feedback'].find((x) => acts.includes(x));
    const rest = acts.filter((x) => x !== mainAct);
    return h('div', { class: 'actions', id: 'actions' },
      mainAct ? h('button', { type: 'button', class: 'btn primary big', 'data-act': mainAct, onclick: () => startAction(o, mainAct) }, t('act.' + mainAct)) : null,
      rest.length ? h('div', { class: 'more' }, rest.map((x) => h('button', { type: 'button', class: 'btn' + (x === 'return' ? ' danger' : ''), 'data-act': x, onclick: () => startAction(o, x) }, t('act.' + x)))) : null);
  }
  async function discard(i) {
    await Q.del(i.key);
    for (const p of i.photos || []) await B.del(p.id);
    await loadQueue();
    renderBanners();
    renderDetail();
  }
  async function done(o, action, r, errBox, button) {
    if (r instanceof Error) {
      if (button) button.disabled = false;
      if (r.status === 401) { closeSheet(); await sessionEnded(); return false; }
      if (errBox) showError(errBox, r); else toast(r.detail || String(r), true);
      return false;
    }
    closeSheet();
    if (r.signedOut) { toast(t('sent.after_signin')); return true; }
    if (r.queued) toast(t('sent.queued'));
    else toast(resultText(action, r.res), r.res.state === 'conflict');
    await loadQueue();
    renderBanners();
    if (st.view === 'detail' && st.order && st.order.id === o.id) {
      renderDetail(); // a sent action's answer carried the order as it is now
    }
    return true;
  }

  function startAction(o, action) {
    if (action === 'sign') return doSign(o);
    if (action === 'arrive') return arriveSheet(o);
    if (action === 'feedback') return feedbackSheet(o);
    if (action === 'return') return textSheet(o, 'return', t('ret.title'), t('ret.reason'), 'reason', t('ret.need'));
    if (action === 'note') return textSheet(o, 'note', t('note.title'), t('note.text'), 'note', t('note.need'));
    if (action === 'extend') return extendSheet(o);
    if (action === 'hand') return handSheet(o);
    return null;
  }
  async function doSign(o) {
    const b = document.querySelector('[data-act=sign]');
    if (b) b.disabled = true;
    const r = await act(o, 'sign', {});
    await done(o, 'sign', r, null, b);
  }

  function arriveSheet(o) {
    const status = h('p', { class: 'locating', id: 'arrive-status' }, t('arrive.locating'));
    const err = sheetError();
    const buttons = h('div', { class: 'form' });
    openSheet(h('h2', null, t('arrive.title')), status, err, buttons,
      h('button', { type: 'button', class: 'btn', onclick: closeSheet }, t('cancel')));
    const sendWithout = async (reason) => {
      status.textContent = reason;
      const b = h('button', { type: 'button', class: 'btn primary big', id: 'arrive-without' }, t('arrive.without'));
      b.addEventListener('click', async () => {
        b.disabled = true; err.textContent = '';
        await done(o, 'arrive', await act(o, 'arrive', { no_location: true }), err, b);
      });
      buttons.replaceChildren(b, h('button', { type: 'button', class: 'btn', onclick: () => { closeSheet(); arriveSheet(o); } }, t('arrive.retry')));
    };
    if (!navigator.geolocation) { sendWithout(t('arrive.nogeo')); return; }
    navigator.geolocation.getCurrentPosition(async (pos) => {
      const c = pos.coords;
      status.textContent = t('arrive.got', { acc: Math.round(c.accuracy || 0) });
      const body = { lat: c.latitude, lon: c.longitude };
      if (Number.isFinite(c.accuracy)) body.accuracy_m = Math.round(c.accuracy * 10) / 10;
      const r = await act(o, 'arrive', body);
      await done(o, 'arrive', r, err, null);
    }, (e) => {
      sendWithout(e.code === 1 ? t('arrive.denied') : e.code === 3 ? t('arrive.timeout') : t('arrive.unavailable'));
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  async function sniff(blob) {
    const b = new Uint8Array(await blob.slice(0, 12).arrayBuffer());
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
    if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
    if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'image/webp';
    return null;
  }
  function feedbackSheet(o) {
    const f = { result: null, photos: [] };
    const err = sheetError();
    const photoErr = h('p', { class: 'err', id: 'photo-error', role: 'alert' });
    const btnRes = (v) => h('button', { type: 'button', class: 'choice', 'aria-pressed': 'false', 'data-result': v, onclick: () => {
      f.result = v;
      resBox.querySelectorAll('.choice').forEach((x) => x.setAttribute('aria-pressed', x.dataset.result === v ? 'true' : 'false'));
    } }, t('fb.' + v));
    const resBox = h('div', { class: 'two', role: 'group' }, btnRes('resolved'), btnRes('unresolved'));
    const text = h('textarea', { id: 'fb-text', maxlength: '4000' });
    const chips = (o.phrases || []).map((p) => h('button', { type: 'button', class: 'phrase', onclick: () => {
      const cur = text.value.trimEnd();
      text.value = cur ? cur + (/[。.!！?？；;，,]$/.test(cur) ? '' : lang === 'en' ? '. ' : '，') + p : p;
    } }, p));
    const thumbs = h('div', { class: 'thumbs', id: 'fb-thumbs' });
    const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', multiple: true, id: 'fb-photo', 'aria-label': t('fb.add_photo') });
    const addLabel = h('label', { class: 'btn file-label', id: 'fb-add' }, '+ ' + t('fb.add_photo'), input);
    const drawThumbs = () => {
      thumbs.replaceChildren(...f.photos.map((p) => h('div', { class: 'thumb' + (p.error ? ' bad' : ''), 'data-photo': p.id },
        h('img', { src: p.url, alt: '' }),
        h('span', { class: 'st' }, p.error ? p.error : p.uploading ? t('fb.uploading') : p.meta ? t('fb.uploaded') : t('fb.on_phone')),
        h('button', { type: 'button', class: 'x', 'aria-label': t('fb.remove'), onclick: () => {
          f.photos = f.photos.filter((x) => x !== p);
          URL.revokeObjectURL(p.url); B.del(p.id); drawThumbs();
        } }, '×'))));
      addLabel.hidden = f.photos.length >= MAX_PHOTOS;
    };
    input.addEventListener('change', async () => {
      photoErr.textContent = '';
      const files = [...input.files];
      input.value = '';
      for (const file of files) {
        if (f.photos.length >= MAX_PHOTOS) { photoErr.textContent = t('fb.too_many'); break; }
        if (file.size > MAX_PHOTO_BYTES) { photoErr.textContent = t('fb.too_big') + ': ' + file.name; continue; }
        const mime = await sniff(file);
        if (!mime || !IMAGE_TYPES.includes(mime)) { photoErr.textContent = t('fb.not_image') + ': ' + file.name; continue; }
        const p = { id: uuid(), mime, size: file.size, url: URL.createObjectURL(file), meta: null, error: null, uploading: true };
        await B.put(p.id, file);
        f.photos.push(p);
        drawThumbs();
        p.upload = api('POST', 'photos', undefined, { raw: file, type: mime }).then((r) => {
          p.meta = { sha256: r.data.sha256, size: r.data.size, mime: r.data.mime };
        }, (e) => {
          if (e instanceof ApiError && e.status !== 429 && e.status < 500) { p.error = e.detail; photoErr.textContent = e.detail; }
        }).finally(() => { p.uploading = false; drawThumbs(); });
      }
    });
    const send = h('button', { type: 'button', class: 'btn primary big', id: 'fb-send' }, t('send'));
    send.addEventListener('click', async () => {
      err.textContent = '';
      if (!f.result) { err.textContent = t('fb.need_result'); return; }
      if (!text.value.trim()) { err.textContent = t('fb.need_text'); text.focus(); return; }
      if (f.photos.some((p) => p.error)) { err.textContent = t('fb.photo_bad'); return; }
      if (o.photo_required && !f.photos.length) { err.textContent = t('fb.need_photo'); photoErr.textContent = t('fb.need_photo'); return; }
      send.disabled = true;
      await Promise.all(f.photos.map((p) => p.upload));
      if (f.photos.some((p) => p.error)) { send.disabled = false; err.textContent = t('fb.photo_bad'); return; }
      const photos = f.photos.map((p) => ({ id: p.id, mime: p.mime, meta: p.meta }));
      const r = await act(o, 'feedback', { result: f.result, text: text.value.trim() }, photos);
      if (await done(o, 'feedback', r, err, send)) f.photos.forEach((p) => URL.revokeObjectURL(p.url));
    });
    openSheet(h('h2', null, t('fb.title')),
      h('div', { class: 'field' }, h('span', { class: 'label' }, t('fb.result')), resBox),
      chips.length ? h('div', { class: 'field' }, h('span', { class: 'label' }, t('fb.phrases')), h('div', { class: 'chips', id: 'fb-phrases' }, chips)) : null,
      h('div', { class: 'field' }, h('label', { for: 'fb-text' }, t('fb.text')), text),
      h('div', { class: 'field' }, h('span', { class: 'label' }, o.photo_required ? t('fb.photos_req') : t('fb.photos')), thumbs, addLabel, photoErr),
      err, send, h('button', { type: 'button', class: 'btn', onclick: () => {
        f.photos.forEach((p) => { URL.revokeObjectURL(p.url); B.del(p.id); });
        closeSheet();
      } }, t('cancel')));
  }

  function textSheet(o, action, title, label, fieldName, need) {
    const err = sheetError();
    const text = h('textarea', { id: 'sheet-text', maxlength: '4000' });
    const send = h('button', { type: 'button', class: 'btn primary big', id: 'sheet-send' }, t('send'));
    send.addEventListener('click', async () => {
      err.textContent = '';
      if (!text.value.trim()) { err.textContent = need; text.focus(); return; }
      send.disabled = true;
      const body = {}; body[fieldName] = text.value.trim();
      await done(o, action, await act(o, action, body), err, send);
    });
    openSheet(h('h2', null, title), h('div', { class: 'field' }, h('label', { for: 'sheet-text' }, label), text), err, send,
      h('button', { type: 'button', class: 'btn', onclick: closeSheet }, t('cancel')));
  }
  function extendSheet(o) {
    const err = sheetError();
    const hours = h('input', { id: 'ext-hours', type: 'number', inputmode: 'numeric', min: '1', max: '336', value: '24' });
    const mark = () => quick.querySelectorAll('.choice').forEach((b) => b.setAttribute('aria-pressed', b.textContent === hours.value ? 'true' : 'false'));
    const quick = h('div', { class: 'hours' }, [4, 12, 24, 48, 72].map((n) => h('button', { type: 'button', class: 'choice', 'aria-pressed': n === 24 ? 'true' : 'false', onclick: () => { hours.value = String(n); mark(); } }, String(n))));
    hours.addEventListener('input', mark);
    const reason = h('textarea', { id: 'ext-reason', maxlength: '4000' });
    const send = h('button', { type: 'button', class: 'btn primary big', id: 'ext-send' }, t('send'));
    send.addEventListener('click', async () => {
      err.textContent = '';
      const n = Number(hours.value);
      if (!Number.isInteger(n) || n < 1 || n > 336) { err.textContent = t('ext.bad_hours'); hours.focus(); return; }
      if (!reason.value.trim()) { err.textContent = t('ext.need'); reason.focus(); return; }
      send.disabled = true;
      await done(o, 'extend', await act(o, 'extend', { hours: n, reason: reason.value.trim() }), err, send);
    });
    openSheet(h('h2', null, t('ext.title')),
      h('div', { class: 'field' }, h('label', { for: 'ext-hours' }, t('ext.hours')), quick, hours),
      h('div', { class: 'field' }, h('label', { for: 'ext-reason' }, t('ext.reason')), reason), err, send,
      h('button', { type: 'button', class: 'btn', onclick: closeSheet }, t('cancel')));
  }
  function handSheet(o) {
    const err = sheetError();
    let chosen = null;
    const current = o.assignment && o.assignment.holder;
    const list = h('div', { class: 'members', id: 'hand-members', role: 'group' }, st.members.map((m) => h('button', {
      type: 'button', class: 'choice', 'aria-pressed': 'false', 'data-person': m.id, onclick: (ev) => {
        chosen = m;
        list.querySelectorAll('.choice').forEach((x) => x.setAttribute('aria-pressed', x === ev.currentTarget ? 'true' : 'false'));
      },
    }, m.name + (st.me && m.id === st.me.id ? t('hand.me') : '') + (m.id === current ? ' ✓' : ''))));
    const note = h('textarea', { id: 'hand-note', maxlength: '4000' });
    const send = h('button', { type: 'button', class: 'btn primary big', id: 'hand-send' }, t('send'));
    send.addEventListener('click', async () => {
      err.textContent = '';
      if (!chosen) { err.textContent = t('hand.need'); return; }
      send.disabled = true;
      const body = { person: chosen.id };
      if (note.value.trim()) body.note = note.value.trim();
      await done(o, 'hand', await act(o, 'hand', body), err, send);
    });
    openSheet(h('h2', null, t('hand.title')), st.members.length ? list : h('p', { class: 'muted' }, t('hand.none')),
      h('div', { class: 'field' }, h('label', { for: 'hand-note' }, t('hand.note')), note), err, send,
      h('button', { type: 'button', class: 'btn', onclick: closeSheet }, t('cancel')));
  }

  // ---- routing and start ------------------------------------------------------------------------------------------------
  async function route() {
    if (!st.me) return;
    const m = /^#\/o\/(.+)$/.exec(location.hash);
    if (m) await openOrder(decodeURIComponent(m[1]), true);
    else await showList();
  }
  function tick() {
    // live countdowns: redraw the due lines only (cheap) when nothing is being typed
    if (document.hidden || !$('#sheet-wrap').hidden) return;
    if (st.view === 'list' && st.orders) renderList();
    else if (st.view === 'detail' && st.order) {
      const el = $('#d-due');
      const a = st.order.assignment || {};
      const d = dueText(Object.assign({}, a, { status: predicted(a, pendingFor(st.order.id)) }));
      if (el) { el.textContent = d.text; el.className = 'due ' + d.cls; }
    }
  }
  async function back() {
    if (history.length > 1 && location.hash) history.back();
    else { history.replaceState(null, '', '/m/'); await showList(); }
  }
  async function online() {
    if (!st.me) { boot(); return; }
    retryDelay = 0;
    try { await loadMe(); } catch (e) { if (e instanceof ApiError && e.status === 401) { await sessionEnded(); return; } }
    await flush();
    if (st.view === 'list') await refreshList(true);
    else if (st.view === 'detail' && st.order) await loadOrder(st.order.id);
    renderBanners();
  }
  let registered = false;
  function registerWorker() {
    // after the first view is drawn, so installing (which fetches the shell once more) does not delay it
    if (registered || !('serviceWorker' in navigator) || !window.isSecureContext) return;
    registered = true;
    // Once the worker controls the page, ask again for what was fetched before it did (`me`, the list), so the
    // worker keeps them for a reload without signal. (Not an order's details: that would log a view.)
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      if (!st.me || navigator.onLine === false) return;
      api('GET', 'me').catch(() => { /* kept for the next time */ });
      if (st.view === 'list') refreshList(true);
    });
    setTimeout(() => {
      navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' }).catch(() => { /* the page works without it */ });
    }, 300);
  }
  async function boot() {
    const m = /^\/m\/o\/([^/?#]+)/.exec(location.pathname);
    if (m) {
      st.link = decodeURIComponent(m[1]);
      try { sessionStorage.setItem('fq_link', st.link); } catch (e) { /* none */ }
    } else {
      try { st.link = sessionStorage.getItem('fq_link'); } catch (e) { st.link = null; }
    }
    setBar(t('app'), false);
    if (!st.link && !/^#\/o\//.test(location.hash)) {
      early = api('GET', 'orders');
      early.catch(() => { /* answered through refreshList, or dropped at sign-in */ });
    }
    openDb(); // opened beside the network, not after it
    try {
      await loadMe();
    } catch (e) {
      early = null;
      if (e instanceof NetError) { showSignin(t('signin.offline')); return; }
      showSignin(e.status === 401 ? '' : e.detail);
      return;
    }
    await afterSignin();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#back').addEventListener('click', back);
    $('#lang').addEventListener('click', () => {
      lang = lang === 'zh' ? 'en' : 'zh';
      safeSet('fq_lang', lang);
      if (st.view === 'signin' || !st.me) {
        const first = !!document.getElementById('code');
        showSignin('', first);
      } else if (st.view === 'detail' && st.order) { renderBanners(); renderDetail(); loadOrder(st.order.id); }
      else { renderBanners(); showList(); }
    });
    $('#sheet-wrap').addEventListener('click', (ev) => { if (ev.target === ev.currentTarget) closeSheet(); });
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !$('#sheet-wrap').hidden) closeSheet(); });
    window.addEventListener('popstate', () => { closeSheet(); route(); });
    window.addEventListener('online', online);
    window.addEventListener('offline', () => renderBanners());
    document.addEventListener('visibilitychange', () => { if (!document.hidden && st.me) online(); });
    setInterval(tick, 30000);
    // new orders show up on their own (a list fetch is not a view of any order)
    setInterval(() => {
      if (st.me && st.view === 'list' && !document.hidden && navigator.onLine !== false && $('#sheet-wrap').hidden) refreshList(true);
    }, 60000);
    setInterval(() => { if (st.me && st.queue.some((i) => i.state !== 'failed') && navigator.onLine !== false) flush(); }, 30000);
    boot();
  });
})();
