 Úÿ«å¦t3?11Ð^yõòò¡S¹FRÓå÷ÖÝ;y§8NïdÊñApˆ
‚˜uº¸x´½Îw$E†gy€Afœj	f0šÞ)]‹Â†¼FcJ‹ÉipN,EAa&¦§Å¼Oæÿ¿´T5m	úl›ƒåaŠÆu¨¼Sì$ ŸÛûZ