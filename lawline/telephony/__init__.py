"""SIP gateway: pjsua2 telephony workers, the voice menu, the SIP front."""
