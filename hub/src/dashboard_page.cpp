// The dashboard page as an embedded string: devices, recent presses and alerts, live over SSE.
#include "kiosk/hub/dashboard_page.hpp"

namespace kiosk::hub {

std::string_view dashboard_page() {
  static constexpr std::string_view page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Kiosk hub</title>
<style>
body{font:14px system-ui,sans-serif;margin:1rem;background:#f6f6f4;color:#222}
h1{font-size:1.2rem}h2{font-size:1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left}
.online{color:#18794e}.offline{color:#b42318}.unknown{color:#777}.bad{color:#b42318;font-weight:600}
#alerts div{background:#fee4e2;border-left:4px solid #b42318;padding:.5rem;margin:.3rem 0}
#conn{float:right;color:#777}
</style></head><body>
<h1>Kiosk hub <span id="site"></span><span id="conn">connecting...</span></h1>
<h2>Alerts</h2><div id="alerts"><i>none</i></div>
<h2>Devices</h2><table><thead><tr><th>device</th><th>location</th><th>state</th><th>fw</th><th>last press</th></tr></thead><tbody id="devices"></tbody></table>
<h2>Recent presses</h2><table><thead><tr><th>time</th><th>device</th><th>location</th><th>rating</th></tr></thead><tbody id="presses"></tbody></table>
<p class="unknown">Times in this browser's time zone.</p>
<script>
const $=id=>document.getElementById(id);
const esc=s=>String(s??'').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
// Hub times are UTC (ISO 8601); people read them on their own clock.
const when=t=>{if(!t)return '';const d=new Date(t);return isNaN(d)?t:d.toLocaleString()};
const names=new Map();const place=id=>names.get(id)||id;
const devices=new Map();
function drawDevices(){let h='';for(const d of [...devices.values()].sort((a,b)=>a.id<b.id?-1:1)){
 h+=`<tr><td>${esc(d.id)}${d.retired?' (retired)':''}</td><td>${esc(place(d.location))}</td><td class="${esc(d.state)}">${esc(d.state)}</td><td>${esc(d.fw)}</td><td>${esc(when(d.last_press))}</td></tr>`}
 $('devices').innerHTML=h}
function addPress(p,top){const tr=document.createElement('tr');
 // "bad" is the hub's own rule (the alert settings); a repeat is the same guest pressing again.
 const bad=p.bad??p.rating<=Math.floor((p.scale||4)/2);const repeat=(p.flags||[]).includes('repeat');
 const rating=p.call_manager?'<b class="bad">calls a manager</b>':`<span class="${bad?'bad':''}">${esc(p.rating)}/${esc(p.scale)}</span>`;
 tr.innerHTML=`<td>${esc(when(p.pressed_at))}</td><td>${esc(p.device)}</td><td>${esc(place(p.location))}</td><td>${rating}${repeat?' <span class="unknown">(repeat)</span>':''}</td>`;
 const tb=$('presses');top?tb.prepend(tr):tb.append(tr);while(tb.rows.length>50)tb.deleteRow(-1)}
const alerts=new Map();
function drawAlerts(){const open=[...alerts.values()].filter(a=>a.state!=='resolved').sort((a,b)=>a.since<b.since?-1:1);
 $('alerts').innerHTML=open.length?open.map(a=>`<div><b>${esc(place(a.location))}</b> ${esc(a.id)} ${esc(a.state)}${a.acked_by?' by '+esc(a.acked_by):''} (${esc(a.severity)}) since ${esc(when(a.since))}: ${esc(a.reason)}</div>`).join(''):'<i>none</i>'}
// Everything from scratch: at start, and after the event stream was down (events were missed).
async function load(){
 const h=await (await fetch('/health')).json();$('site').textContent=h.site;
 names.clear();for(const l of await (await fetch('/api/locations')).json())names.set(l.id,l.name);
 devices.clear();for(const d of await (await fetch('/api/devices')).json())devices.set(d.id,d);drawDevices();
 $('presses').innerHTML='';for(const p of await (await fetch('/api/presses?limit=50')).json())addPress(p,false);
 // Every alert still going on, however old: the newest 100 of all states could leave one out.
 try{const r=await fetch('/api/alerts?state=active');if(r.ok){alerts.clear();for(const a of await r.json())alerts.set(a.id,a)}drawAlerts()}catch(e){}
}
const es=new EventSource('/api/events');let missed=false;
es.onopen=()=>{$('conn').textContent='live';if(missed){missed=false;load().catch(()=>{})}};
es.onerror=()=>{$('conn').textContent='reconnecting...';missed=true};
es.addEventListener('press',e=>{const p=JSON.parse(e.data);if(!p.stored)return;addPress(p,true);
 const d=devices.get(p.device);if(d){d.last_press=p.pressed_at;drawDevices()}});
// Liveness changes carry the state; registering, moving and retiring carry the whole device.
es.addEventListener('device',e=>{const x=JSON.parse(e.data);const d=devices.get(x.device)||{id:x.device};
 Object.assign(d,x);devices.set(x.device,d);if(x.location&&!names.has(x.location))names.set(x.location,x.location);drawDevices()});
es.addEventListener('alert',e=>{const a=JSON.parse(e.data);a.state==='resolved'?alerts.delete(a.id):alerts.set(a.id,a);drawAlerts()});
load();
</script></body></html>
)html";
  return page;
}

}  // namespace kiosk::hub
