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
