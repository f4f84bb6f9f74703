"""Page texts in Uzbek (default), Russian and English, and the choice of language per request.

The language comes from `?lang=`, then the OIDC `ui_locales`, then a cookie, then
Accept-Language. Message keys are also the ids of UserError, so an error says what to fix
in the reader's language.
"""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import HTTPException

LANGS = ("uz", "ru", "en")
DEFAULT = "uz"

MESSAGES: dict[str, dict[str, str]] = {
    "app_name": {"uz": "Yagona identifikatsiya tizimi", "ru": "Единая система идентификации", "en": "Yagona single sign-on"},
    "login_title": {"uz": "Tizimga kirish", "ru": "Вход в систему", "en": "Log in"},
    "login_for": {"uz": "«{client}» portaliga kirish uchun", "ru": "для входа на портал «{client}»", "en": "to continue to “{client}”"},
    "login_label": {"uz": "Login", "ru": "Логин", "en": "Login"},
    "password_label": {"uz": "Parol", "ru": "Пароль", "en": "Password"},
    "login_button": {"uz": "Kirish", "ru": "Войти", "en": "Log in"},
    "no_account": {"uz": "Hisobingiz yo‘qmi?", "ru": "Нет учётной записи?", "en": "No account yet?"},
    "register_link": {"uz": "Ro‘yxatdan o‘tish", "ru": "Зарегистрироваться", "en": "Register"},
    "register_title": {"uz": "Ro‘yxatdan o‘tish (ID hisob)", "ru": "Регистрация (ID-аккаунт)", "en": "Register (ID account)"},
    "phone_label": {"uz": "Telefon raqami", "ru": "Номер телефона", "en": "Phone number"},
    "email_label": {"uz": "Elektron pochta (ixtiyoriy)", "ru": "Эл. почта (необязательно)", "en": "E-mail (optional)"},
    "password_hint": {"uz": "Kamida 10 ta belgi", "ru": "Не менее 10 символов", "en": "At least 10 characters"},
    "password_repeat": {"uz": "Parolni takrorlang", "ru": "Повторите пароль", "en": "Repeat the password"},
    "accept_terms": {"uz": "Yagona portaldan foydalanish qoidalariga roziman", "ru": "Я согласен с правилами пользования порталом", "en": "I agree to the portal's rules of use"},
    "register_button": {"uz": "Ro‘yxatdan o‘tish", "ru": "Зарегистрироваться", "en": "Register"},
    "registered": {"uz": "Hisob yaratildi. Endi kirishingiz mumkin.", "ru": "Учётная запись создана. Теперь можно войти.", "en": "Your account is ready. You can log in now."},
    "consent_title": {"uz": "Ma’lumotlarni berishga rozilik", "ru": "Согласие на передачу данных", "en": "Share your data?"},
    "consent_intro": {"uz": "«{client}» quyidagi ma’lumotlaringizni so‘ramoqda:", "ru": "«{client}» запрашивает следующие данные:", "en": "“{client}” asks for:"},
    "allow": {"uz": "Ruxsat berish", "ru": "Разрешить", "en": "Allow"},
    "deny": {"uz": "Rad etish", "ru": "Отказать", "en": "Deny"},
    "scope_openid": {"uz": "Sizning identifikatoringiz", "ru": "Ваш идентификатор", "en": "Your identifier"},
    "scope_profile": {"uz": "F.I.Sh., tug‘ilgan sana, jins", "ru": "ФИО, дата рождения, пол", "en": "Name, birth date, gender"},
    "scope_email": {"uz": "Elektron pochta", "ru": "Электронная почта", "en": "E-mail address"},
    "scope_phone": {"uz": "Telefon raqami", "ru": "Номер телефона", "en": "Phone number"},
    "scope_address": {"uz": "Manzil", "ru": "Адрес", "en": "Address"},
    "scope_pinfl": {"uz": "JShShIR (PINFL)", "ru": "ПИНФЛ", "en": "Personal number (PINFL)"},
    "scope_offline_access": {"uz": "Siz tizimda bo‘lmaganingizda ham bu ma’lumotlarga kirish", "ru": "Доступ к этим данным, даже когда вы не в системе", "en": "Access to this data while you are not logged in"},
    "scope_passport": {"uz": "Pasport ma’lumotlari", "ru": "Паспортные данные", "en": "Passport details"},
    "logout_title": {"uz": "Tizimdan chiqish", "ru": "Выход из системы", "en": "Log out"},
    "logout_confirm": {"uz": "Yagona tizimidan chiqasizmi?", "ru": "Выйти из единой системы?", "en": "Log out of Yagona?"},
    "logout_button": {"uz": "Chiqish", "ru": "Выйти", "en": "Log out"},
    "logged_out": {"uz": "Siz tizimdan chiqdingiz.", "ru": "Вы вышли из системы.", "en": "You are logged out."},
    "cabinet_title": {"uz": "Shaxsiy kabinet", "ru": "Личный кабинет", "en": "Personal cabinet"},
    "public_id": {"uz": "ID raqam", "ru": "ID-номер", "en": "ID number"},
    "assurance": {"uz": "Ishonch darajasi", "ru": "Уровень доверия", "en": "Assurance level"},
    "change_password": {"uz": "Parolni o‘zgartirish", "ru": "Сменить пароль", "en": "Change password"},
    "current_password": {"uz": "Joriy parol", "ru": "Текущий пароль", "en": "Current password"},
    "new_password": {"uz": "Yangi parol", "ru": "Новый пароль", "en": "New password"},
    "save": {"uz": "Saqlash", "ru": "Сохранить", "en": "Save"},
    "password_changed": {"uz": "Parol o‘zgartirildi.", "ru": "Пароль изменён.", "en": "Password changed."},
    "error_title": {"uz": "Xatolik", "ru": "Ошибка", "en": "Something is wrong"},
    "error_back": {"uz": "Portalga qayting va qaytadan urinib ko‘ring.", "ru": "Вернитесь на портал и попробуйте снова.", "en": "Go back to the portal and try again."},
    "needs_level": {"uz": "Bu portal «{level}» darajasini talab qiladi.", "ru": "Этот портал требует уровень «{level}».", "en": "This portal requires assurance level “{level}”."},
    "level_low": {"uz": "past", "ru": "низкий", "en": "low"},
    "level_substantial": {"uz": "o‘rta", "ru": "значительный", "en": "substantial"},
    "level_high": {"uz": "yuqori", "ru": "высокий", "en": "high"},
    # the login step (idp/methods, idp/policy.py)
    "method_password": {"uz": "Login va parol", "ru": "Логин и пароль", "en": "Login and password"},
    "step_up_why": {"uz": "Bu portal «{level}» ishonch darajasini talab qiladi, kirishingiz esa «{have}» darajaga yetdi. Kuchliroq usul bilan tasdiqlang.", "ru": "Этот портал требует уровень доверия «{level}», а ваш вход достиг уровня «{have}». Подтвердите вход более надёжным способом.", "en": "This portal requires assurance level “{level}”; your login reached “{have}”. Confirm with a stronger method."},
    "no_method_for_level": {"uz": "«{level}» darajasiga yetadigan kirish usuli hozircha mavjud emas.", "ru": "Способа входа, достигающего уровня «{level}», пока нет.", "en": "No login method that reaches “{level}” is available to you yet."},
    "back_to_portal": {"uz": "Portalga qaytish", "ru": "Вернуться на портал", "en": "Back to the portal"},
    "back_to_login": {"uz": "Kirish sahifasiga qaytish", "ru": "Вернуться ко входу", "en": "Back to the login"},
    # errors a person can fix
    "login_failed": {"uz": "Login yoki parol noto‘g‘ri.", "ru": "Неверный логин или пароль.", "en": "Wrong login or password."},
    "account_locked": {"uz": "Urinishlar ko‘p bo‘ldi. {minutes} daqiqadan so‘ng qayta urinib ko‘ring.", "ru": "Слишком много попыток. Повторите через {minutes} мин.", "en": "Too many failed attempts. Try again in {minutes} min."},
    "account_blocked": {"uz": "Hisob bloklangan. Ro‘yxatga olish markaziga murojaat qiling.", "ru": "Учётная запись заблокирована. Обратитесь в центр регистрации.", "en": "This account is blocked. Please contact a registration centre."},
    "account_closed": {"uz": "Hisob yopilgan.", "ru": "Учётная запись закрыта.", "en": "This account is closed."},
    "account_pending": {"uz": "Hisob hali faollashtirilmagan.", "ru": "Учётная запись ещё не активирована.", "en": "This account is not activated yet."},
    "login_invalid": {"uz": "Login 3–64 ta kichik lotin harfi, raqam, nuqta, chiziqchadan iborat bo‘lsin.", "ru": "Логин: 3–64 символа — строчные латинские буквы, цифры, точка, дефис, подчёркивание.", "en": "Login: 3 to 64 characters — lower-case Latin letters, digits, dot, dash, underscore."},
    "login_taken": {"uz": "Bu login band. Boshqasini tanlang.", "ru": "Этот логин занят. Выберите другой.", "en": "This login is taken. Choose another one."},
    "phone_invalid": {"uz": "Telefon raqamini +998 90 123 45 67 ko‘rinishida kiriting.", "ru": "Введите номер в формате +998 90 123 45 67.", "en": "Enter the phone number like +998 90 123 45 67."},
    "email_invalid": {"uz": "Elektron pochta manzili noto‘g‘ri.", "ru": "Неверный адрес эл. почты.", "en": "That e-mail address is not valid."},
    "password_too_short": {"uz": "Parol kamida 10 ta belgidan iborat bo‘lsin.", "ru": "Пароль должен быть не короче 10 символов.", "en": "The password must have at least 10 characters."},
    "password_too_long": {"uz": "Parol 256 belgidan oshmasin.", "ru": "Пароль не длиннее 256 символов.", "en": "The password must not exceed 256 characters."},
    "password_contains_login": {"uz": "Parolda login bo‘lmasin.", "ru": "Пароль не должен содержать логин.", "en": "The password must not contain the login."},
    "password_common": {"uz": "Bu parol eng ko‘p ishlatiladigan parollardan biri va birinchi bo‘lib taxmin qilinadi. Bir-biriga bog‘liq bo‘lmagan bir nechta so‘zdan iborat uzunroq ibora tanlang.", "ru": "Этот пароль — один из самых распространённых, его подбирают первым. Выберите фразу подлиннее из нескольких не связанных слов.", "en": "This password is one of the most common ones and is guessed first. Choose a longer phrase of several unrelated words."},
    "password_too_simple": {"uz": "Parol juda oddiy.", "ru": "Пароль слишком простой.", "en": "The password is too simple."},
    "password_mismatch": {"uz": "Parollar mos emas.", "ru": "Пароли не совпадают.", "en": "The passwords do not match."},
    "terms_required": {"uz": "Davom etish uchun qoidalarga rozilik bering.", "ru": "Чтобы продолжить, примите правила.", "en": "Accept the rules of use to continue."},
    "current_password_wrong": {"uz": "Joriy parol noto‘g‘ri.", "ru": "Текущий пароль неверен.", "en": "The current password is wrong."},
    "no_password": {"uz": "Bu hisobda parol yo‘q.", "ru": "У этой учётной записи нет пароля.", "en": "This account has no password."},
    "csrf_failed": {"uz": "Sahifa eskirgan. Uni yangilab, qayta yuboring.", "ru": "Страница устарела. Обновите её и отправьте снова.", "en": "This page has expired. Reload it and submit again."},
    "request_expired": {"uz": "Kirish so‘rovi eskirdi. Portalga qayting.", "ru": "Запрос на вход устарел. Вернитесь на портал.", "en": "This login request has expired. Go back to the portal."},
    "not_found": {"uz": "Sahifa topilmadi.", "ru": "Страница не найдена.", "en": "Page not found."},
    "too_large": {"uz": "So‘rov juda katta.", "ru": "Слишком большой запрос.", "en": "The request is too large."},
    "server_error": {"uz": "Ichki xatolik. Keyinroq urinib ko‘ring.", "ru": "Внутренняя ошибка. Попробуйте позже.", "en": "Internal error. Please try again later."},
    "method_not_allowed": {"uz": "Bu usul bilan so‘rov yuborib bo‘lmaydi.", "ru": "Этот метод запроса не поддерживается.", "en": "That request method is not allowed here."},
    "too_many_requests": {"uz": "So‘rovlar ko‘p. Birozdan so‘ng urinib ko‘ring.", "ru": "Слишком много запросов. Повторите позже.", "en": "Too many requests. Try again shortly."},
    # one-time codes and the development outbox (idp/otp.py, idp/pages/dev.py)
    "otp_sms_text": {"uz": "Yagona: tasdiqlash kodi {code}. Uni hech kimga aytmang. Kod 5 daqiqa amal qiladi.", "ru": "Yagona: код подтверждения {code}. Никому его не сообщайте. Код действует 5 минут.", "en": "Yagona: your confirmation code is {code}. Do not share it. It is valid for 5 minutes."},
    "otp_format": {"uz": "Kod 6 ta raqamdan iborat.", "ru": "Код состоит из 6 цифр.", "en": "The code is 6 digits."},
    "otp_wrong": {"uz": "Kod noto‘g‘ri. Yana {left} ta urinish qoldi.", "ru": "Неверный код. Осталось попыток: {left}.", "en": "Wrong code. {left} tries left."},
    "otp_expired": {"uz": "Kodning muddati o‘tdi. Yangi kod so‘rang.", "ru": "Срок действия кода истёк. Запросите новый код.", "en": "The code has expired. Ask for a new one."},
    "otp_used": {"uz": "Bu kod allaqachon ishlatilgan. Yangi kod so‘rang.", "ru": "Этот код уже использован. Запросите новый код.", "en": "This code has already been used. Ask for a new one."},
    "otp_too_many_tries": {"uz": "Noto‘g‘ri urinishlar ko‘p bo‘ldi. Yangi kod so‘rang.", "ru": "Слишком много неверных попыток. Запросите новый код.", "en": "Too many wrong tries. Ask for a new code."},
    "otp_wait": {"uz": "Yangi kodni {seconds} soniyadan so‘ng so‘rash mumkin.", "ru": "Новый код можно запросить через {seconds} с.", "en": "You can ask for a new code in {seconds} s."},
    "otp_too_many_codes": {"uz": "Bu raqamga kodlar ko‘p yuborildi. {minutes} daqiqadan so‘ng urinib ko‘ring.", "ru": "На этот номер отправлено слишком много кодов. Повторите через {minutes} мин.", "en": "Too many codes were sent to this number. Try again in {minutes} min."},
    "sms_unavailable": {"uz": "SMS yuborib bo‘lmadi. Birozdan so‘ng urinib ko‘ring.", "ru": "Не удалось отправить SMS. Попробуйте немного позже.", "en": "The SMS could not be sent. Please try again shortly."},
    "outbox_title": {"uz": "SMS va xatlar (ishlab chiqish rejimi)", "ru": "SMS и письма (режим разработки)", "en": "SMS and e-mail (development mode)"},
    "outbox_intro": {"uz": "Ishlab chiqish rejimida SMS va xatlar yuborilmaydi: ular shu yerda saqlanadi.", "ru": "В режиме разработки SMS и письма не отправляются, а хранятся здесь.", "en": "In development mode no SMS or e-mail leaves the service: they are kept here."},
    "outbox_filter": {"uz": "Telefon yoki pochta", "ru": "Телефон или почта", "en": "Phone or e-mail"},
    "outbox_show": {"uz": "Ko‘rsatish", "ru": "Показать", "en": "Show"},
    "outbox_empty": {"uz": "Hali xabar yo‘q.", "ru": "Сообщений пока нет.", "en": "No messages yet."},
    "outbox_when": {"uz": "Vaqt (UTC)", "ru": "Время (UTC)", "en": "Time (UTC)"},
    "outbox_to": {"uz": "Kimga", "ru": "Кому", "en": "To"},
    "outbox_text": {"uz": "Matn", "ru": "Текст", "en": "Text"},
    "outbox_to_invalid": {"uz": "+998 bilan boshlanuvchi telefon raqamini yoki pochta manzilini kiriting.", "ru": "Введите номер телефона (+998…) или адрес эл. почты.", "en": "Enter a phone number (+998…) or an e-mail address."},
    # e-signature login (idp/challenges.py: esign_ + a Refusal) and legal entities (idp/legal.py)
    "esign_malformed": {"uz": "Bu imzo emas. Imzo faylini (.p7s) yuklang yoki uning base64 matnini qo‘ying.", "ru": "Это не подпись. Загрузите файл подписи (.p7s) или вставьте её текст base64.", "en": "This is not a signature. Upload the signature file (.p7s) or paste its base64 text."},
    "esign_detached": {"uz": "Imzo ichida so‘rov matni yo‘q. Uni biriktirilgan imzo bilan imzolang (imzo sign, --detached siz).", "ru": "В подписи нет текста запроса. Подпишите его присоединённой подписью (imzo sign без --detached).", "en": "The signature does not contain the challenge. Sign it as an attached signature (imzo sign without --detached)."},
    "esign_not_ours": {"uz": "Imzolangan matn bu kirish uchun berilgan so‘rov emas. Ko‘rsatilgan matnni aynan, qator ko‘chirmasdan imzolang.", "ru": "Подписан не тот текст, что выдан для этого входа. Подпишите показанный текст в точности, без перевода строки.", "en": "What was signed is not the challenge shown for this login. Sign the text shown exactly, without a line break."},
    "esign_expired": {"uz": "So‘rov muddati tugadi (2 daqiqa). Yangisini oling va qayta imzolang.", "ru": "Срок запроса истёк (2 минуты). Получите новый и подпишите снова.", "en": "The challenge has expired (2 minutes). Get a new one and sign it again."},
    "esign_used": {"uz": "Bu so‘rovga allaqachon javob berilgan. Yangisini oling.", "ru": "На этот запрос уже ответили. Получите новый.", "en": "This challenge was already answered. Get a new one."},
    "esign_invalid": {"uz": "Imzo yaroqsiz. Faqat o‘z kalitingiz bilan qayta imzolang.", "ru": "Подпись недействительна. Подпишите заново только своим ключом.", "en": "The signature is not valid. Sign again with your own key only."},
    "esign_revoked": {"uz": "Sertifikatingiz bekor qilingan. Yangi kalit uchun ro‘yxatga olish markaziga murojaat qiling.", "ru": "Ваш сертификат отозван. Обратитесь в центр регистрации за новым ключом.", "en": "Your certificate has been revoked. Ask a registration centre for a new key."},
    "esign_certificate_expired": {"uz": "Sertifikatingiz muddati tugagan yoki hali kuchga kirmagan. Kalitingizni yangilang.", "ru": "Срок действия сертификата истёк или ещё не начался. Обновите ключ.", "en": "Your certificate has expired or is not valid yet. Renew your key."},
    "esign_untrusted": {"uz": "Sertifikat bu tizim ishonadigan markaz tomonidan berilmagan.", "ru": "Сертификат выдан не тем удостоверяющим центром, которому доверяет система.", "en": "The certificate was not issued by a certification authority this service trusts."},
    "esign_try_later": {"uz": "Sertifikat holatini hozir tekshirib bo‘lmadi. Birozdan so‘ng urinib ko‘ring.", "ru": "Сейчас не удалось проверить статус сертификата. Повторите позже.", "en": "The certificate's status cannot be checked right now. Try again shortly."},
    "scope_legal_entities": {"uz": "Siz vakili bo‘lgan tashkilotlar (STIR, nomi, lavozimingiz)", "ru": "Организации, которые вы представляете (ИНН, название, должность)", "en": "Organisations you represent (TIN, name, role)"},
    "esign_no_pinfl": {"uz": "Sertifikatda JShShIR (PINFL) yo‘q. Fuqaro yoki xodim sertifikati bilan kiring.", "ru": "В сертификате нет ПИНФЛ. Войдите с сертификатом физического лица или сотрудника.", "en": "The certificate names no personal number (PINFL). Log in with a citizen's or an employee's certificate."},
    # bank cards (UzCard, Humo): idp/cards.py and the card processor's refusals (idp/gateways/cards.py)
    "card_number_invalid": {"uz": "Karta raqamining 16 ta raqamini kiriting.", "ru": "Введите 16 цифр номера карты.", "en": "Enter the 16 digits of the card number."},
    "card_number_mistyped": {"uz": "Karta raqamida xato bor: raqamlarni tekshiring.", "ru": "В номере карты ошибка: проверьте цифры.", "en": "The card number has a typo: check the digits."},
    "card_not_accepted": {"uz": "Faqat UzCard (8600…) va Humo (9860…) kartalari qabul qilinadi.", "ru": "Принимаются только карты UzCard (8600…) и Humo (9860…).", "en": "Only UzCard (8600…) and Humo (9860…) cards are accepted."},
    "card_expiry_invalid": {"uz": "Amal qilish muddatini kartadagidek OO/YY ko‘rinishida kiriting.", "ru": "Введите срок действия как на карте: ММ/ГГ.", "en": "Enter the expiry as printed on the card: MM/YY."},
    "card_expired": {"uz": "Bu kartaning amal qilish muddati tugagan.", "ru": "Срок действия этой карты истёк.", "en": "This card has expired."},
    "card_blocked": {"uz": "Bu karta bloklangan. Bankingizga murojaat qiling.", "ru": "Эта карта заблокирована. Обратитесь в свой банк.", "en": "This card is blocked. Contact your bank."},
    "card_no_phone": {"uz": "Bankda bu karta uchun telefon raqami yo‘q. Uni bankingizda qo‘shing yoki boshqa usulni tanlang.", "ru": "В банке нет номера телефона для этой карты. Добавьте его в своём банке или выберите другой способ.", "en": "Your bank has no phone number for this card. Add one at your bank, or choose another way in."},
    "card_unknown": {"uz": "Karta topilmadi: raqam va amal qilish muddatini tekshiring.", "ru": "Карта не найдена: проверьте номер и срок действия.", "en": "Card not found: check the number and the expiry."},
    "card_holder_mismatch": {"uz": "Karta egasining ismi sizning ma’lumotlaringizga mos emas. Faqat o‘z kartangizdan foydalaning.", "ru": "Имя владельца карты не совпадает с вашими данными. Используйте только свою карту.", "en": "The card holder's name does not match yours. Use a card of your own."},
}


def _ui_locales() -> str:
    try:
        return request.values.get("ui_locales") or ""
    except HTTPException:  # an unreadable body (too large, bad encoding) must not break the error page
        return request.args.get("ui_locales") or ""


def current_lang() -> str:
    for candidate in (request.args.get("lang"), *_ui_locales().split(), request.cookies.get("lang")):
        if candidate and candidate[:2].lower() in LANGS:
            return candidate[:2].lower()
    best = request.accept_languages.best_match(LANGS)
    return best or DEFAULT


def t(key: str, **params: object) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(current_lang()) or entry[DEFAULT]
    return text.format(**params) if params else text


def lang_url(lang: str) -> str:
    """This page with the language switched, as a query-only reference: a path copied from the
    request (/%5Cevil.example/x) would be read by browsers as a link to another host."""
    from urllib.parse import urlencode

    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return "?" + urlencode(args, doseq=True)
