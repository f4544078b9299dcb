/*
 * p11conf - configure and inspect any PKCS#11 token (library info, slots, tokens, mechanisms,
 * token and PIN initialisation, objects).  The interface is the one of the LS11CLOUD article:
 *
 *   p11conf [-hitsmIupPredf] -A APIpath [-c slotID -U userPin -S SOPin -n newPin -L label]
 *
 * The module at APIpath is loaded with dlopen() and driven only through C_GetFunctionList, so
 * the output has the same shape whatever the module.  Exit codes: 0 success, 1 a PKCS#11 call
 * failed (or the module could not be loaded), 2 a usage error (bad options, a missing PIN with
 * no terminal to ask on).
 *
 * Copyright (C) 2026 LS11CLOUD developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "p11conf.h"

enum { EXIT_P11 = 1, EXIT_USAGE = 2 };

struct p11conf {
	const char *prog;
	const char *api_path;
	bool have_slot;
	CK_SLOT_ID slot;
	char *user_pin;
	char *so_pin;
	char *new_pin;
	const char *label;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool initialized;
};

static const struct p11conf_name no_flags[] = {
	{ 0, NULL },
};

static const struct p11conf_name slot_flags[] = {
	{ CKF_TOKEN_PRESENT, "CKF_TOKEN_PRESENT" },
	{ CKF_REMOVABLE_DEVICE, "CKF_REMOVABLE_DEVICE" },
	{ CKF_HW_SLOT, "CKF_HW_SLOT" },
	{ 0, NULL },
};

static const struct p11conf_name token_flags[] = {
	{ CKF_RNG, "CKF_RNG" },
	{ CKF_WRITE_PROTECTED, "CKF_WRITE_PROTECTED" },
	{ CKF_LOGIN_REQUIRED, "CKF_LOGIN_REQUIRED" },
	{ CKF_USER_PIN_INITIALIZED, "CKF_USER_PIN_INITIALIZED" },
	{ CKF_RESTORE_KEY_NOT_NEEDED, "CKF_RESTORE_KEY_NOT_NEEDED" },
	{ CKF_CLOCK_ON_TOKEN, "CKF_CLOCK_ON_TOKEN" },
	{ CKF_PROTECTED_AUTHENTICATION_PATH, "CKF_PROTECTED_AUTHENTICATION_PATH" },
	{ CKF_DUAL_CRYPTO_OPERATIONS, "CKF_DUAL_CRYPTO_OPERATIONS" },
	{ CKF_TOKEN_INITIALIZED, "CKF_TOKEN_INITIALIZED" },
	{ CKF_SECONDARY_AUTHENTICATION, "CKF_SECONDARY_AUTHENTICATION" },
	{ CKF_USER_PIN_COUNT_LOW, "CKF_USER_PIN_COUNT_LOW" },
	{ CKF_USER_PIN_FINAL_TRY, "CKF_USER_PIN_FINAL_TRY" },
	{ CKF_USER_PIN_LOCKED, "CKF_USER_PIN_LOCKED" },
	{ CKF_USER_PIN_TO_BE_CHANGED, "CKF_USER_PIN_TO_BE_CHANGED" },
	{ CKF_SO_PIN_COUNT_LOW, "CKF_SO_PIN_COUNT_LOW" },
	{ CKF_SO_PIN_FINAL_TRY, "CKF_SO_PIN_FINAL_TRY" },
	{ CKF_SO_PIN_LOCKED, "CKF_SO_PIN_LOCKED" },
	{ CKF_SO_PIN_TO_BE_CHANGED, "CKF_SO_PIN_TO_BE_CHANGED" },
	{ 0x01000000UL, "CKF_ERROR_STATE" }, /* v3.0 */
	{ 0, NULL },
};

static const struct p11conf_name mech_flags[] = {
	{ CKF_HW, "CKF_HW" },
	{ CKF_MESSAGE_ENCRYPT, "CKF_MESSAGE_ENCRYPT" },
	{ CKF_MESSAGE_DECRYPT, "CKF_MESSAGE_DECRYPT" },
	{ CKF_MESSAGE_SIGN, "CKF_MESSAGE_SIGN" },
	{ CKF_MESSAGE_VERIFY, "CKF_MESSAGE_VERIFY" },
	{ CKF_MULTI_MESSAGE, "CKF_MULTI_MESSAGE" },
	{ CKF_FIND_OBJECTS, "CKF_FIND_OBJECTS" },
	{ CKF_ENCRYPT, "CKF_ENCRYPT" },
	{ CKF_DECRYPT, "CKF_DECRYPT" },
	{ CKF_DIGEST, "CKF_DIGEST" },
	{ CKF_SIGN, "CKF_SIGN" },
	{ CKF_SIGN_RECOVER, "CKF_SIGN_RECOVER" },
	{ CKF_VERIFY, "CKF_VERIFY" },
	{ CKF_VERIFY_RECOVER, "CKF_VERIFY_RECOVER" },
	{ CKF_GENERATE, "CKF_GENERATE" },
	{ CKF_GENERATE_KEY_PAIR, "CKF_GENERATE_KEY_PAIR" },
	{ CKF_WRAP, "CKF_WRAP" },
	{ CKF_UNWRAP, "CKF_UNWRAP" },
	{ CKF_DERIVE, "CKF_DERIVE" },
	{ CKF_EC_F_P, "CKF_EC_F_P" },
	{ 0x00200000UL, "CKF_EC_F_2M" },
	{ 0x00400000UL, "CKF_EC_ECPARAMETERS" },
	{ CKF_EC_NAMEDCURVE, "CKF_EC_NAMEDCURVE" },
	{ CKF_EC_UNCOMPRESS, "CKF_EC_UNCOMPRESS" },
	{ CKF_EC_COMPRESS, "CKF_EC_COMPRESS" },
	{ CKF_EXTENSION, "CKF_EXTENSION" },
	{ 0, NULL },
};

static const char *name_of(const struct p11conf_name *table, CK_ULONG value)
{
	for (; table->name != NULL; table++)
		if (table->value == value)
			return table->name;
	return NULL;
}

static const char *rv_name(CK_RV rv)
{
	const char *n = name_of(p11conf_ckr_names, rv);
	return n != NULL ? n : "CKR_VENDOR_DEFINED";
}

static void print_name(const struct p11conf_name *table, CK_ULONG value)
{
	const char *n = name_of(table, value);
	if (n != NULL)
		printf("%s", n);
	else
		printf("0x%08lx", (unsigned long)value);
}

static void print_flags(const struct p11conf_name *table, CK_FLAGS flags)
{
	CK_FLAGS rest = flags;
	bool first = true;

	printf("0x%08lx", (unsigned long)flags);
	for (; table->name != NULL; table++) {
		if ((flags & table->value) == 0)
			continue;
		printf("%s%s", first ? " " : " | ", table->name);
		first = false;
		rest &= ~table->value;
	}
	if (rest != 0)
		printf("%s0x%08lx", first ? " " : " | ", (unsigned long)rest);
	printf("\n");
}

/* A fixed-width, blank-padded PKCS#11 string, printed without the padding. */
static void print_padded(const CK_UTF8CHAR *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
		len--;
	printf("%.*s\n", (int)len, (const char *)s);
}

static int p11_fail(const struct p11conf *c, const char *call, CK_RV rv)
{
	fprintf(stderr, _("%s: %s failed: %s (0x%08lx)\n"), c->prog, call, rv_name(rv),
		(unsigned long)rv);
	return EXIT_P11;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out, _("usage: %s [-hitsmIupPredf] -A APIpath [-c slotID\n"
		       "-U userPin -S SOPin -n newPin -L label]\n"), prog);
	fputs(_("-h display usage\n"
		"-i display PKCS#11 library info\n"
		"-s display slot(s) info (-c slotID is optional)\n"
		"-t display token(s) info (-c slotID is optional)\n"
		"Others must use -c slotID\n"
		"-m display mechanism list\n"
		"-I initialize token\n"
		"-u initialize user PIN\n"
		"-p set the user PIN\n"
		"-P set the SO PIN\n"
		"-e enumerate objects\n"
		"-d dump all object attributes (additional to -e and to -f)\n"
		"-r remove all objects\n"
		"-e -r remove enumerated objects with prompt\n"
		"-f enumerate certificates and write them to DER-files with prompt\n"),
	      out);
	fprintf(out, _("Version %s\n"), PACKAGE_VERSION);
	fputs(_("Copyright (C) 2026 LS11CLOUD developers\n"), out);
}

/* ------------------------------------------------------------------------------------------
 * PINs and prompts
 * ---------------------------------------------------------------------------------------- */

static void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * Reads a line from /dev/tty with echo off.  Returns a malloc'd string, or NULL with errno set
 * (ENXIO and friends when there is no terminal).
 */
static char *tty_read_secret(const char *prompt)
{
	struct termios old, quiet;
	char buf[256];
	size_t n = 0;
	char *out = NULL;
	bool restore = false;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		goto out;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n' || ch == '\r')
			break;
		if (n + 1 < sizeof(buf))
			buf[n++] = ch;
	}
	buf[n] = '\0';
	if (write(fd, "\n", 1) < 0) {
		/* nothing to do: the PIN was read */
	}
	out = strdup(buf);
out:
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return out;
}

/*
 * Makes sure *pin is set: given on the command line, or asked on the terminal.  what names the
 * PIN, opt the option that gives it.  Returns 0 or EXIT_USAGE with a message.
 */
static int need_pin(const struct p11conf *c, char **pin, const char *what, const char *opt)
{
	char prompt[128];

	if (*pin != NULL)
		return 0;
	snprintf(prompt, sizeof(prompt), _("Enter %s: "), what);
	*pin = tty_read_secret(prompt);
	if (*pin == NULL) {
		fprintf(stderr, _("%s: the %s is needed: give it with %s (no terminal to ask on: "
				  "/dev/tty: %s)\n"),
			c->prog, what, opt, strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

static int need_new_pin(struct p11conf *c)
{
	char *again;
	int ret;

	if (c->new_pin != NULL)
		return 0;
	ret = need_pin(c, &c->new_pin, _("new PIN"), "-n");
	if (ret != 0)
		return ret;
	again = tty_read_secret(_("Repeat new PIN: "));
	if (again == NULL || strcmp(again, c->new_pin) != 0) {
		fprintf(stderr, _("%s: the new PINs do not match\n"), c->prog);
		secret_free(again);
		return EXIT_USAGE;
	}
	secret_free(again);
	return 0;
}

/* Asks a yes/no question on stdout and reads the answer from stdin: true for y or yes. */
static bool confirm(const char *question)
{
	char line[64];

	printf("%s [y/N] ", question);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		printf("\n");
		return false;
	}
	return line[0] == 'y' || line[0] == 'Y';
}

/* ------------------------------------------------------------------------------------------
 * Module
 * ---------------------------------------------------------------------------------------- */

static int module_load(struct p11conf *c)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	c->dl = dlopen(c->api_path, RTLD_NOW | RTLD_LOCAL);
	if (c->dl == NULL) {
		fprintf(stderr, _("%s: cannot load the PKCS#11 library: %s\n"), c->prog, dlerror());
		return EXIT_P11;
	}
	*(void **)&get_list = dlsym(c->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		fprintf(stderr, _("%s: %s is not a PKCS#11 library: no C_GetFunctionList\n"), c->prog,
			c->api_path);
		return EXIT_P11;
	}
	rv = get_list(&c->f);
	if (rv != CKR_OK)
		return p11_fail(c, "C_GetFunctionList", rv);
	if (c->f == NULL) {
		fprintf(stderr, _("%s: C_GetFunctionList returned no function list\n"), c->prog);
		return EXIT_P11;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = c->f->C_Initialize(&args);
	if (rv != CKR_OK)
		return p11_fail(c, "C_Initialize", rv);
	c->initialized = true;
	return 0;
}

static void module_unload(struct p11conf *c)
{
	if (c->initialized)
		c->f->C_Finalize(NULL);
	c->initialized = false;
	/* The module is not dlclose()d: some modules leave threads or atexit handlers behind. */
}

/* The slots to show: the one of -c, or all (only those with a token when tokens). */
static int slot_list(struct p11conf *c, bool tokens, CK_SLOT_ID **out, CK_ULONG *count)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	*out = NULL;
	*count = 0;
	if (c->have_slot) {
		slots = malloc(sizeof(*slots));
		if (slots == NULL)
			return EXIT_P11;
		slots[0] = c->slot;
		*out = slots;
		*count = 1;
		return 0;
	}
	rv = c->f->C_GetSlotList(tokens ? CK_TRUE : CK_FALSE, NULL, &n);
	if (rv != CKR_OK)
		return p11_fail(c, "C_GetSlotList", rv);
	slots = calloc(n > 0 ? n : 1, sizeof(*slots));
	if (slots == NULL)
		return EXIT_P11;
	rv = c->f->C_GetSlotList(tokens ? CK_TRUE : CK_FALSE, slots, &n);
	if (rv != CKR_OK) {
		free(slots);
		return p11_fail(c, "C_GetSlotList", rv);
	}
	*out = slots;
	*count = n;
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * -i -s -t -m
 * ---------------------------------------------------------------------------------------- */

static int show_info(struct p11conf *c)
{
	CK_INFO info;
	CK_RV rv = c->f->C_GetInfo(&info);

	if (rv != CKR_OK)
		return p11_fail(c, "C_GetInfo", rv);
	printf(_("PKCS#11 library info:\n"));
	printf(_("  Cryptoki version:    %u.%u\n"), info.cryptokiVersion.major,
	       info.cryptokiVersion.minor);
	printf(_("  Manufacturer:        "));
	print_padded(info.manufacturerID, sizeof(info.manufacturerID));
	printf(_("  Flags:               "));
	print_flags(no_flags, info.flags);
	printf(_("  Library description: "));
	print_padded(info.libraryDescription, sizeof(info.libraryDescription));
	printf(_("  Library version:     %u.%u\n"), info.libraryVersion.major,
	       info.libraryVersion.minor);
	return 0;
}

static int show_slots(struct p11conf *c)
{
	CK_SLOT_ID *slots;
	CK_ULONG n;
	int ret = slot_list(c, false, &slots, &n);

	if (ret != 0)
		return ret;
	printf(_("Slots: %lu\n"), (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_SLOT_INFO info;
		CK_RV rv = c->f->C_GetSlotInfo(slots[i], &info);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_GetSlotInfo", rv);
			break;
		}
		printf(_("Slot %lu (0x%lx):\n"), (unsigned long)slots[i], (unsigned long)slots[i]);
		printf(_("  Description:         "));
		print_padded(info.slotDescription, sizeof(info.slotDescription));
		printf(_("  Manufacturer:        "));
		print_padded(info.manufacturerID, sizeof(info.manufacturerID));
		printf(_("  Flags:               "));
		print_flags(slot_flags, info.flags);
		printf(_("  Hardware version:    %u.%u\n"), info.hardwareVersion.major,
		       info.hardwareVersion.minor);
		printf(_("  Firmware version:    %u.%u\n"), info.firmwareVersion.major,
		       info.firmwareVersion.minor);
	}
	free(slots);
	return ret;
}

/* CK_EFFECTIVELY_INFINITE (0) means "no limit" only for the maximum counts. */
static void print_count(CK_ULONG v, bool limit)
{
	if (v == CK_UNAVAILABLE_INFORMATION)
		printf(_("unavailable\n"));
	else if (limit && v == CK_EFFECTIVELY_INFINITE)
		printf(_("unlimited\n"));
	else
		printf("%lu\n", (unsigned long)v);
}

static int show_tokens(struct p11conf *c)
{
	CK_SLOT_ID *slots;
	CK_ULONG n;
	int ret = slot_list(c, true, &slots, &n);

	if (ret != 0)
		return ret;
	printf(_("Tokens: %lu\n"), (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO t;
		CK_RV rv = c->f->C_GetTokenInfo(slots[i], &t);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_GetTokenInfo", rv);
			break;
		}
		printf(_("Token in slot %lu (0x%lx):\n"), (unsigned long)slots[i],
		       (unsigned long)slots[i]);
		printf(_("  Label:               "));
		print_padded(t.label, sizeof(t.label));
		printf(_("  Manufacturer:        "));
		print_padded(t.manufacturerID, sizeof(t.manufacturerID));
		printf(_("  Model:               "));
		print_padded(t.model, sizeof(t.model));
		printf(_("  Serial number:       "));
		print_padded(t.serialNumber, sizeof(t.serialNumber));
		printf(_("  Flags:               "));
		print_flags(token_flags, t.flags);
		printf(_("  Sessions (max):      "));
		print_count(t.ulMaxSessionCount, true);
		printf(_("  Sessions:            "));
		print_count(t.ulSessionCount, false);
		printf(_("  R/W sessions (max):  "));
		print_count(t.ulMaxRwSessionCount, true);
		printf(_("  R/W sessions:        "));
		print_count(t.ulRwSessionCount, false);
		printf(_("  PIN length:          %lu..%lu\n"), (unsigned long)t.ulMinPinLen,
		       (unsigned long)t.ulMaxPinLen);
		printf(_("  Public memory:       "));
		print_count(t.ulFreePublicMemory, false);
		printf(_("  Public memory total: "));
		print_count(t.ulTotalPublicMemory, false);
		printf(_("  Private memory:      "));
		print_count(t.ulFreePrivateMemory, false);
		printf(_("  Private memory total:"));
		printf(" ");
		print_count(t.ulTotalPrivateMemory, false);
		printf(_("  Hardware version:    %u.%u\n"), t.hardwareVersion.major,
		       t.hardwareVersion.minor);
		printf(_("  Firmware version:    %u.%u\n"), t.firmwareVersion.major,
		       t.firmwareVersion.minor);
		printf(_("  UTC time:            "));
		if (t.flags & CKF_CLOCK_ON_TOKEN)
			print_padded(t.utcTime, sizeof(t.utcTime));
		else
			printf(_("none\n"));
	}
	free(slots);
	return ret;
}

static int show_mechanisms(struct p11conf *c)
{
	CK_MECHANISM_TYPE *mechs = NULL;
	CK_ULONG n = 0;
	CK_RV rv = c->f->C_GetMechanismList(c->slot, NULL, &n);
	int ret = 0;

	if (rv != CKR_OK)
		return p11_fail(c, "C_GetMechanismList", rv);
	mechs = calloc(n > 0 ? n : 1, sizeof(*mechs));
	if (mechs == NULL)
		return EXIT_P11;
	rv = c->f->C_GetMechanismList(c->slot, mechs, &n);
	if (rv != CKR_OK) {
		free(mechs);
		return p11_fail(c, "C_GetMechanismList", rv);
	}
	printf(_("Mechanisms of slot %lu: %lu\n"), (unsigned long)c->slot, (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_MECHANISM_INFO mi;
		rv = c->f->C_GetMechanismInfo(c->slot, mechs[i], &mi);
		if (rv != CKR_OK) {
			ret = p11_fail(c, "C_GetMechanismInfo", rv);
			break;
		}
		printf("  ");
		print_name(p11conf_ckm_names, mechs[i]);
		printf(_(" (0x%08lx): key size %lu..%lu, flags "), (unsigned long)mechs[i],
		       (unsigned long)mi.ulMinKeySize, (unsigned long)mi.ulMaxKeySize);
		print_flags(mech_flags, mi.flags);
	}
	free(mechs);
	return ret;
}

/* ------------------------------------------------------------------------------------------
 * -I -u -p -P
 * ---------------------------------------------------------------------------------------- */

static int open_session(struct p11conf *c, CK_SESSION_HANDLE *s)
{
	CK_RV rv = c->f->C_OpenSession(c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv != CKR_OK)
		return p11_fail(c, "C_OpenSession", rv);
	return 0;
}

static int login(struct p11conf *c, CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *pin)
{
	CK_RV rv = c->f->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return p11_fail(c, "C_Login", rv);
	return 0;
}

static int init_token(struct p11conf *c)
{
	CK_UTF8CHAR label[32];
	size_t len = strlen(c->label);
	int ret = need_pin(c, &c->so_pin, _("SO PIN"), "-S");
	CK_RV rv;

	if (ret != 0)
		return ret;
	memset(label, ' ', sizeof(label));
	memcpy(label, c->label, len);
	rv = c->f->C_InitToken(c->slot, (CK_UTF8CHAR_PTR)c->so_pin, strlen(c->so_pin), label);
	if (rv != CKR_OK)
		return p11_fail(c, "C_InitToken", rv);
	printf(_("Token in slot %lu initialised, label \"%s\"\n"), (unsigned long)c->slot, c->label);
	return 0;
}

static int init_user_pin(struct p11conf *c)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int ret = need_pin(c, &c->so_pin, _("SO PIN"), "-S");

	if (ret == 0)
		ret = need_new_pin(c);
	if (ret != 0)
		return ret;
	ret = open_session(c, &s);
	if (ret != 0)
		return ret;
	ret = login(c, s, CKU_SO, c->so_pin);
	if (ret == 0) {
		rv = c->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)c->new_pin, strlen(c->new_pin));
		if (rv != CKR_OK)
			ret = p11_fail(c, "C_InitPIN", rv);
		else
			printf(_("User PIN initialised\n"));
		c->f->C_Logout(s);
	}
	c->f->C_CloseSession(s);
	return ret;
}

static int set_pin(struct p11conf *c, CK_USER_TYPE who)
{
	char **old = who == CKU_SO ? &c->so_pin : &c->user_pin;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int ret = who == CKU_SO ? need_pin(c, old, _("SO PIN"), "-S")
				: need_pin(c, old, _("user PIN"), "-U");

	if (ret == 0)
		ret = need_new_pin(c);
	if (ret != 0)
		return ret;
	ret = open_session(c, &s);
	if (ret != 0)
		return ret;
	ret = login(c, s, who, *old);
	if (ret == 0) {
		rv = c->f->C_SetPIN(s, (CK_UTF8CHAR_PTR)*old, strlen(*old),
				    (CK_UTF8CHAR_PTR)c->new_pin, strlen(c->new_pin));
		if (rv != CKR_OK)
			ret = p11_fail(c, "C_SetPIN", rv);
		else
			printf(who == CKU_SO ? _("SO PIN changed\n") : _("User PIN changed\n"));
		c->f->C_Logout(s);
	}
	c->f->C_CloseSession(s);
	return ret;
}

/* ------------------------------------------------------------------------------------------
 * -e -d -r -f
 * ---------------------------------------------------------------------------------------- */

/* Gets one attribute into a malloc'd buffer (*len bytes); CKR_* on failure. */
static CK_RV get_attr(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		      CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv = c->f->C_GetAttributeValue(s, o, &a, 1);

	*val = NULL;
	*len = 0;
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	a.pValue = malloc(a.ulValueLen > 0 ? a.ulValueLen : 1);
	if (a.pValue == NULL)
		return CKR_HOST_MEMORY;
	rv = c->f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

static bool get_ulong(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		      CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
	CK_ATTRIBUTE a = { type, out, sizeof(*out) };
	return c->f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK;
}

static void print_hex(const unsigned char *v, CK_ULONG len)
{
	for (CK_ULONG i = 0; i < len; i++)
		printf("%02x", v[i]);
}

static void print_text_or_hex(const unsigned char *v, CK_ULONG len)
{
	bool text = true;

	for (CK_ULONG i = 0; i < len; i++)
		if (!isprint(v[i]))
			text = false;
	if (text)
		printf("\"%.*s\"", (int)len, (const char *)v);
	else
		print_hex(v, len);
}

static bool attr_is_ulong_name(CK_ATTRIBUTE_TYPE t, const struct p11conf_name **table)
{
	switch (t) {
	case CKA_CLASS:
		*table = p11conf_cko_names;
		return true;
	case CKA_KEY_TYPE:
		*table = p11conf_ckk_names;
		return true;
	case CKA_CERTIFICATE_TYPE:
		*table = p11conf_ckc_names;
		return true;
	case CKA_KEY_GEN_MECHANISM:
	case CKA_MECHANISM_TYPE:
		*table = p11conf_ckm_names;
		return true;
	default:
		return false;
	}
}

static void dump_attributes(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	for (const struct p11conf_name *a = p11conf_cka_names; a->name != NULL; a++) {
		const struct p11conf_name *table;
		unsigned char *v;
		CK_ULONG len;
		CK_RV rv = get_attr(c, s, o, a->value, &v, &len);

		if (rv == CKR_ATTRIBUTE_SENSITIVE) {
			printf(_("    %s: <sensitive>\n"), a->name);
			continue;
		}
		if (rv != CKR_OK)
			continue;
		printf("    %s: ", a->name);
		if (len == sizeof(CK_ULONG) && attr_is_ulong_name(a->value, &table)) {
			CK_ULONG u;
			memcpy(&u, v, sizeof(u));
			print_name(table, u);
		} else if (len == sizeof(CK_BBOOL) && a->value != CKA_VALUE &&
			   a->value != CKA_LABEL && a->value != CKA_ID && (v[0] == 0 || v[0] == 1)) {
			printf("%s", v[0] ? "CK_TRUE" : "CK_FALSE");
		} else if (len == sizeof(CK_ULONG) &&
			   (a->value == CKA_MODULUS_BITS || a->value == CKA_VALUE_LEN ||
			    a->value == CKA_VALUE_BITS || a->value == CKA_CERTIFICATE_CATEGORY ||
			    a->value == CKA_JAVA_MIDP_SECURITY_DOMAIN ||
			    a->value == CKA_NAME_HASH_ALGORITHM || a->value == CKA_PRIME_BITS ||
			    a->value == CKA_SUB_PRIME_BITS || a->value == CKA_HW_FEATURE_TYPE)) {
			CK_ULONG u;
			memcpy(&u, v, sizeof(u));
			printf("%lu", (unsigned long)u);
		} else if (a->value == CKA_LABEL || a->value == CKA_APPLICATION ||
			   a->value == CKA_URL || a->value == CKA_START_DATE ||
			   a->value == CKA_END_DATE) {
			print_text_or_hex(v, len);
		} else {
			print_hex(v, len);
		}
		printf(_(" (%lu bytes)\n"), (unsigned long)len);
		free(v);
	}
}

static void print_object(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
			 unsigned long index)
{
	CK_ULONG cls;
	unsigned char *v;
	CK_ULONG len;

	printf(_("Object %lu (handle 0x%lx): "), index, (unsigned long)o);
	if (get_ulong(c, s, o, CKA_CLASS, &cls))
		print_name(p11conf_cko_names, cls);
	else
		printf("?");
	printf(_(", label "));
	if (get_attr(c, s, o, CKA_LABEL, &v, &len) == CKR_OK) {
		printf("\"%.*s\"", (int)len, (const char *)v);
		free(v);
	} else {
		printf("-");
	}
	printf(_(", id "));
	if (get_attr(c, s, o, CKA_ID, &v, &len) == CKR_OK && len > 0)
		print_hex(v, len);
	else
		printf("-");
	free(v);
	printf("\n");
}

/* All the objects the session sees (certificates only when certs), in a malloc'd array. */
static int find_objects(struct p11conf *c, CK_SESSION_HANDLE s, bool certs,
			CK_OBJECT_HANDLE **out, CK_ULONG *count)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl = { CKA_CLASS, &cls, sizeof(cls) };
	CK_OBJECT_HANDLE *all = NULL;
	CK_ULONG n = 0, cap = 0;
	CK_RV rv = c->f->C_FindObjectsInit(s, certs ? &tmpl : NULL, certs ? 1 : 0);

	if (rv != CKR_OK)
		return p11_fail(c, "C_FindObjectsInit", rv);
	for (;;) {
		CK_OBJECT_HANDLE batch[32];
		CK_ULONG got = 0;
		rv = c->f->C_FindObjects(s, batch, 32, &got);
		if (rv != CKR_OK) {
			c->f->C_FindObjectsFinal(s);
			free(all);
			return p11_fail(c, "C_FindObjects", rv);
		}
		if (got == 0)
			break;
		if (n + got > cap) {
			CK_OBJECT_HANDLE *more;
			cap = (n + got) * 2;
			more = realloc(all, cap * sizeof(*all));
			if (more == NULL) {
				c->f->C_FindObjectsFinal(s);
				free(all);
				return EXIT_P11;
			}
			all = more;
		}
		memcpy(all + n, batch, got * sizeof(*batch));
		n += got;
	}
	c->f->C_FindObjectsFinal(s);
	*out = all;
	*count = n;
	return 0;
}

/* A file name for a certificate: its label with unsafe characters replaced, or its index. */
static void cert_file_name(char *buf, size_t size, const unsigned char *label, CK_ULONG len,
			   unsigned long index)
{
	size_t j = 0;

	for (CK_ULONG i = 0; i < len && j + 5 < size; i++) {
		unsigned char ch = label[i];
		buf[j++] = (isalnum(ch) || ch == '-' || ch == '_' || ch == '.') ? (char)ch : '_';
	}
	buf[j] = '\0';
	if (j == 0)
		snprintf(buf, size, "certificate-%lu", index);
	strncat(buf, ".der", size - strlen(buf) - 1);
}

static int write_certificate(struct p11conf *c, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
			     unsigned long index)
{
	char name[80], question[160];
	unsigned char *label = NULL, *der = NULL;
	CK_ULONG label_len = 0, der_len = 0;
	CK_RV rv;
	FILE *fp;
	int ret = 0;

	if (get_attr(c, s, o, CKA_LABEL, &label, &label_len) != CKR_OK)
		label_len = 0;
	cert_file_name(name, sizeof(name), label, label_len, index);
	free(label);
	snprintf(question, sizeof(question), _("Write the certificate to %s?"), name);
	if (!confirm(question))
		return 0;
	rv = get_attr(c, s, o, CKA_VALUE, &der, &der_len);
	if (rv != CKR_OK)
		return p11_fail(c, "C_GetAttributeValue(CKA_VALUE)", rv);
	fp = fopen(name, "wb");
	if (fp == NULL || fwrite(der, 1, der_len, fp) != der_len) {
		fprintf(stderr, _("%s: cannot write %s: %s\n"), c->prog, name, strerror(errno));
		ret = EXIT_P11;
	}
	if (fp != NULL && fclose(fp) != 0 && ret == 0) {
		fprintf(stderr, _("%s: cannot write %s: %s\n"), c->prog, name, strerror(errno));
		ret = EXIT_P11;
	}
	if (ret == 0)
		printf(_("Written %s (%lu bytes)\n"), name, (unsigned long)der_len);
	free(der);
	return ret;
}

static int objects(struct p11conf *c, bool enumerate, bool dump, bool remove, bool certs)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE *objs = NULL;
	CK_ULONG n = 0;
	unsigned long removed = 0;
	int ret = 0;

	if (remove) {
		ret = need_pin(c, &c->user_pin, _("user PIN"), "-U");
		if (ret != 0)
			return ret;
	}
	ret = open_session(c, &s);
	if (ret != 0)
		return ret;
	if (c->user_pin != NULL)
		ret = login(c, s, CKU_USER, c->user_pin);
	if (ret == 0)
		ret = find_objects(c, s, certs && !remove && !enumerate, &objs, &n);
	if (ret != 0)
		goto out;
	if (enumerate || certs)
		printf(certs && !enumerate ? _("Certificates: %lu\n") : _("Objects: %lu\n"),
		       (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++) {
		if (enumerate || certs) {
			print_object(c, s, objs[i], (unsigned long)i + 1);
			if (dump)
				dump_attributes(c, s, objs[i]);
		}
		if (certs && !enumerate) {
			int r = write_certificate(c, s, objs[i], (unsigned long)i + 1);
			if (r != 0)
				ret = r;
		}
		if (remove) {
			CK_RV rv;
			if (enumerate && !confirm(_("Remove this object?")))
				continue;
			rv = c->f->C_DestroyObject(s, objs[i]);
			if (rv != CKR_OK) {
				ret = p11_fail(c, "C_DestroyObject", rv);
				continue;
			}
			removed++;
		}
	}
	if (remove)
		printf(_("Objects removed: %lu\n"), removed);
out:
	free(objs);
	if (c->user_pin != NULL)
		c->f->C_Logout(s);
	c->f->C_CloseSession(s);
	return ret;
}

/* ------------------------------------------------------------------------------------------
 * main
 * ---------------------------------------------------------------------------------------- */

static char *take_secret(char *arg)
{
	char *copy = strdup(arg);
	/* Blank the argument so that ps shows no PIN. */
	explicit_bzero(arg, strlen(arg));
	return copy;
}

static int usage_error(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	fprintf(stderr, _("Try '%s -h' for help.\n"), prog);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct p11conf c = { 0 };
	bool o_h = false, o_i = false, o_s = false, o_t = false, o_m = false, o_I = false;
	bool o_u = false, o_p = false, o_P = false, o_e = false, o_d = false, o_r = false;
	bool o_f = false;
	int opt, ret = 0;
	char *end;

	ls_tools_i18n_init();
	c.prog = argc > 0 && argv[0] != NULL ? argv[0] : "p11conf";
	const char *slash = strrchr(c.prog, '/');
	if (slash != NULL)
		c.prog = slash + 1;

	opterr = 0;
	while ((opt = getopt(argc, argv, ":hitsmIupPredfA:c:U:S:n:L:")) != -1) {
		switch (opt) {
		case 'h': o_h = true; break;
		case 'i': o_i = true; break;
		case 't': o_t = true; break;
		case 's': o_s = true; break;
		case 'm': o_m = true; break;
		case 'I': o_I = true; break;
		case 'u': o_u = true; break;
		case 'p': o_p = true; break;
		case 'P': o_P = true; break;
		case 'r': o_r = true; break;
		case 'e': o_e = true; break;
		case 'd': o_d = true; break;
		case 'f': o_f = true; break;
		case 'A': c.api_path = optarg; break;
		case 'c':
			errno = 0;
			c.slot = strtoul(optarg, &end, 0);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
				ret = usage_error(c.prog, _("-c needs a slot number"));
				goto out;
			}
			c.have_slot = true;
			break;
		case 'U': secret_free(c.user_pin); c.user_pin = take_secret(optarg); break;
		case 'S': secret_free(c.so_pin); c.so_pin = take_secret(optarg); break;
		case 'n': secret_free(c.new_pin); c.new_pin = take_secret(optarg); break;
		case 'L': c.label = optarg; break;
		case ':': {
			char msg[64];
			snprintf(msg, sizeof(msg), _("option -%c needs an argument"), optopt);
			ret = usage_error(c.prog, msg);
			goto out;
		}
		default: {
			char msg[64];
			snprintf(msg, sizeof(msg), _("unknown option -%c"), optopt);
			ret = usage_error(c.prog, msg);
			goto out;
		}
		}
	}
	if (optind < argc) {
		ret = usage_error(c.prog, _("unexpected argument"));
		goto out;
	}
	if (o_h) {
		usage(stdout, c.prog);
		goto out;
	}
	if (!(o_i || o_s || o_t || o_m || o_I || o_u || o_p || o_P || o_e || o_r || o_f)) {
		usage(stderr, c.prog);
		ret = EXIT_USAGE;
		goto out;
	}
	if (c.api_path == NULL) {
		ret = usage_error(c.prog, _("-A APIpath (the PKCS#11 library) is required"));
		goto out;
	}
	if ((o_m || o_I || o_u || o_p || o_P || o_e || o_r || o_f) && !c.have_slot) {
		ret = usage_error(c.prog, _("-m, -I, -u, -p, -P, -e, -r and -f need -c slotID"));
		goto out;
	}
	if (o_d && !(o_e || o_f)) {
		ret = usage_error(c.prog, _("-d goes with -e or -f"));
		goto out;
	}
	if (o_I && c.label == NULL) {
		ret = usage_error(c.prog, _("-I needs -L label"));
		goto out;
	}
	if (c.label != NULL && strlen(c.label) > 32) {
		ret = usage_error(c.prog, _("the label is longer than 32 bytes"));
		goto out;
	}

	ret = module_load(&c);
	if (ret == 0 && o_i)
		ret = show_info(&c);
	if (ret == 0 && o_s)
		ret = show_slots(&c);
	if (ret == 0 && o_t)
		ret = show_tokens(&c);
	if (ret == 0 && o_m)
		ret = show_mechanisms(&c);
	if (ret == 0 && o_I)
		ret = init_token(&c);
	if (ret == 0 && o_u)
		ret = init_user_pin(&c);
	if (ret == 0 && o_p)
		ret = set_pin(&c, CKU_USER);
	if (ret == 0 && o_P)
		ret = set_pin(&c, CKU_SO);
	if (ret == 0 && (o_e || o_r || o_f)) {
		if (o_f)
			ret = objects(&c, false, o_d, false, true);
		if (ret == 0 && (o_e || o_r))
			ret = objects(&c, o_e, o_d, o_r, false);
	}
	module_unload(&c);
out:
	secret_free(c.user_pin);
	secret_free(c.so_pin);
	secret_free(c.new_pin);
	return ret;
}
