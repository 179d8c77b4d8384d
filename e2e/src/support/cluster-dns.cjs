// Cluster DNS for processes the chart-driven e2e starts as "pods" (support/kube.ts): preloaded
// with NODE_OPTIONS=--require, it answers dns.lookup for the names in the JSON file
// FIRN_E2E_DNS_FILE (Service names → cluster IPs, headless Services → ready pod IPs), re-read on
// every lookup as endpoints change, and hands every other name to the system resolver.
'use strict';
const dns = require('node:dns');
const fs = require('node:fs');

const file = process.env.FIRN_E2E_DNS_FILE;
function answer(host) {
  if (!file) return undefined;
  try {
    const map = JSON.parse(fs.readFileSync(file, 'utf8'));
    const name = String(host).replace(/\.$/, '');
    return Object.hasOwn(map, name) ? map[name] : undefined;
  } catch {
    return undefined;
  }
}

const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  const opts = typeof options === 'number' ? { family: options } : options || {};
  const addrs = answer(host);
  if (!addrs) return lookup.call(dns, host, options, callback);
  process.nextTick(() => {
    if (addrs.length === 0) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
      return callback(err);
    }
    if (opts.all)
      callback(
        null,
        addrs.map((address) => ({ address, family: 4 })),
      );
    else callback(null, addrs[0], 4);
  });
};
const plookup = dns.promises.lookup;
dns.promises.lookup = async function (host, options) {
  const addrs = answer(host);
  if (!addrs) return plookup.call(dns.promises, host, options);
  if (addrs.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
  const opts = typeof options === 'number' ? { family: options } : options || {};
  return opts.all ? addrs.map((address) => ({ address, family: 4 })) : { address: addrs[0], family: 4 };
};
