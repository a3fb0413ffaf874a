/* api.h: a browser softphone's registration over HTTP. */
#ifndef APP_WEBRTC_API_H
#define APP_WEBRTC_API_H

struct api_ctx;

/* GET /agents/{id}/webrtc: everything a browser needs to register as the
 * agent (WebSocket URL, SIP URI, a SIP password made for this login, ICE
 * servers with TURN credentials). The password is rotated in ps_auths:
 * the one handed out before stops working. 409 for an agent whose phone
 * is not a WebRTC endpoint. */
void webrtc_api_get(struct api_ctx *ctx);

#endif /* APP_WEBRTC_API_H */
